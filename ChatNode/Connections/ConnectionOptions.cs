using Microsoft.Extensions.Options;

namespace ChatNode.Connections;

/// <summary>
/// Per-connection limits (configuration section <c>Node</c>, shared with the node's other option classes so that
/// every key keeps its documented name). Defaults suit a production node.
/// </summary>
public sealed class ConnectionOptions
{
    public const string Section = "Node";

    /// <summary>Largest frame a client may send, in bytes; larger frames close the connection with 4103. Default 64 KiB.</summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>Bytes a connection may have queued for sending before it is closed as a slow consumer (4001). Default 1 MiB.</summary>
    public int OutboundBudgetBytes { get; set; } = 1024 * 1024;

    /// <summary>Pushes a connection may leave unacknowledged before it is closed as a slow consumer (4001). Default 5,000.</summary>
    public int MaxUnackedPushes { get; set; } = 5000;

    /// <summary>Sustained requests per second per connection. Default 100.</summary>
    public int RequestsPerSecond { get; set; } = 100;

    /// <summary>Requests a connection may send in a burst above the sustained rate. Default 200.</summary>
    public int RequestBurst { get; set; } = 200;

    /// <summary>Requests of one connection processed concurrently; further frames wait in the socket. Default 32.</summary>
    public int MaxInFlightRequests { get; set; } = 32;

    /// <summary>
    /// Malformed or rate-limited frames a connection may send before it is closed with 4105; the count leaks one a
    /// second, so a client that errs now and then is never closed. Default 50.
    /// </summary>
    public int MaxBadFrames { get; set; } = 50;

    /// <summary>
    /// Connects one client (user and client id) may make in a burst at its owner; each costs a store registration and
    /// an inbox read. Further connects get 429 until the bucket refills. Default 10.
    /// </summary>
    public int ConnectBurst { get; set; } = 10;

    /// <summary>Connects per minute that refill a client's burst. Default 60.</summary>
    public int ConnectsPerMinute { get; set; } = 60;

    /// <summary>
    /// Client connections the node holds at most; further upgrades get HTTP 503 with <c>Retry-After</c>. 0 (the
    /// default) derives it from the process's file descriptor limit (<see cref="DescriptorLimit.ConnectionsUnder"/>),
    /// so that a flood of connects can never take the descriptors the node needs to run.
    /// </summary>
    public int MaxConnections { get; set; }

    /// <summary>
    /// <see cref="MaxConnections"/>, or when it is 0 the limit derived from <paramref name="descriptors"/> (no limit
    /// where that is unknown).
    /// </summary>
    public int ConnectionLimit(long? descriptors) =>
        MaxConnections > 0 ? MaxConnections : descriptors is { } d ? DescriptorLimit.ConnectionsUnder(d) : int.MaxValue;

    /// <summary>WebSocket ping interval. Default 20 s.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>A connection whose pong does not arrive within this time after a ping is closed. Default 20 s.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a gracefully closing connection may take to flush its queue and close before it is aborted. Default 10 s.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

internal sealed class ConnectionOptionsValidator : IValidateOptions<ConnectionOptions>
{
    public ValidateOptionsResult Validate(string? name, ConnectionOptions o)
    {
        var failures = new List<string>();
        Require(failures, o.MaxFrameBytes is >= 1024 and <= 16 * 1024 * 1024, "Node:MaxFrameBytes must be between 1 KiB and 16 MiB.");
        Require(failures, o.OutboundBudgetBytes >= o.MaxFrameBytes, "Node:OutboundBudgetBytes must be at least MaxFrameBytes.");
        Require(failures, o.MaxUnackedPushes >= 1, "Node:MaxUnackedPushes must be positive.");
        Require(failures, o.RequestsPerSecond > 0 && o.RequestBurst > 0, "Node:RequestsPerSecond and RequestBurst must be positive.");
        Require(failures, o.MaxInFlightRequests is >= 1 and <= 1024, "Node:MaxInFlightRequests must be between 1 and 1024.");
        Require(failures, o.MaxBadFrames >= 1, "Node:MaxBadFrames must be positive.");
        Require(failures, o.ConnectBurst >= 1 && o.ConnectsPerMinute is >= 1 and <= 60_000, "Node:ConnectBurst must be positive and ConnectsPerMinute between 1 and 60,000.");
        Require(failures, o.KeepAliveInterval > TimeSpan.Zero && o.KeepAliveTimeout > TimeSpan.Zero, "Node:KeepAliveInterval and KeepAliveTimeout must be positive.");
        Require(failures, o.ShutdownTimeout > TimeSpan.Zero, "Node:ShutdownTimeout must be positive.");
        Require(failures, o.MaxConnections >= 0, "Node:MaxConnections must be 0 (derived from the descriptor limit) or positive.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    internal static void Require(List<string> failures, bool ok, string message)
    {
        if (!ok)
        {
            failures.Add(message);
        }
    }
}
