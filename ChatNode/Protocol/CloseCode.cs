namespace ChatNode.Protocol;

/// <summary>
/// WebSocket close codes a node sends. 4000-4099: the client should reconnect (after the documented delay);
/// 4100-4199: terminal, reconnecting unchanged fails again. docs/protocol.md lists them; keep both in step.
/// </summary>
public enum CloseCode
{
    /// <summary>Another node owns this user: reconnect to the URL of the preceding redirect frame.</summary>
    Redirect = 4000,
    /// <summary>The connection fell behind (queued bytes or unacknowledged pushes over budget). Its messages wait in the inbox.</summary>
    SlowConsumer = 4001,
    /// <summary>The node is shutting down or draining: reconnect with jittered backoff.</summary>
    Shutdown = 4002,
    /// <summary>The store was unavailable while setting up the connection: reconnect with backoff.</summary>
    StoreUnavailable = 4003,
    /// <summary>The token expired while connected: reconnect with a fresh token.</summary>
    TokenExpired = 4004,

    /// <summary>A frame of the wrong type for the subprotocol (text under chat.v1+proto, binary under chat.v1+json).</summary>
    UnsupportedData = 4100,
    /// <summary>This client was deactivated; its inbox is gone.</summary>
    ClientDeactivated = 4101,
    /// <summary>The same client connected again elsewhere; this connection is superseded.</summary>
    SessionReplaced = 4102,
    /// <summary>A frame exceeded the maximum frame size.</summary>
    FrameTooLarge = 4103,
    /// <summary>The user has the maximum number of clients and this client is not one of them.</summary>
    TooManyClients = 4104,
    /// <summary>The connection kept sending malformed or rate-limited frames (more than Node:MaxBadFrames, leaking one a second).</summary>
    BadFrames = 4105,
}

public static class CloseCodeExtensions
{
    public static bool ShouldReconnect(this CloseCode code) => (int)code is >= 4000 and < 4100;
}
