using ChatNode.Protocol.V1;

namespace ChatNode.Protocol;

/// <summary>
/// Builders for the server frames that are not pushes of stored items (those are <see cref="PushFrames"/>): errors,
/// redirects, the welcome, the end of a replay. One builder per frame, so every place that sends one sends the same.
/// </summary>
public static class Frames
{
    /// <summary>An error frame; the caller sets the request id when it answers a request.</summary>
    public static ServerFrame Error(ErrorCode code, string message, ulong requestId = 0) =>
        new() { RequestId = requestId, Error = new Error { Code = code, Message = message } };

    /// <summary>An error after which the request may or may not have been applied: retry it unchanged, never as a new one.</summary>
    public static ServerFrame OutcomeUnknown(ErrorCode code, string message) =>
        new() { Error = new Error { Code = code, Message = message, OutcomeUnknown = true } };

    /// <summary>The redirect push that sends a client to the node at <paramref name="url"/>; a close with 4000 follows it.</summary>
    public static ServerFrame Redirect(string url, string nodeId, long epoch) =>
        new() { Redirect = new Redirect { Url = url, NodeId = nodeId, Epoch = (ulong)Math.Max(0, epoch) } };

    public static ServerFrame Welcome(string userId, string clientId, string nodeId, int maxFrameBytes) => new()
    {
        Welcome = new Welcome { UserId = userId, ClientId = clientId, NodeId = nodeId, MaxFrameBytes = (uint)maxFrameBytes },
    };

    public static ServerFrame InboxReplayed(int count) => new() { InboxReplayed = new InboxReplayed { Count = (uint)count } };

    public static ServerFrame Pong(long serverTimeUnixMs) => new() { Pong = new Pong { ServerTimeUnixMs = serverTimeUnixMs } };
}
