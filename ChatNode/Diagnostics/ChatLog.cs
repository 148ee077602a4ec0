using Microsoft.Extensions.Logging;

namespace ChatNode.Diagnostics;

/// <summary>Node log events; EventIds 1000-1999.</summary>
internal static partial class ChatLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Node {NodeId} listening on {Url}")]
    public static partial void Listening(ILogger logger, string nodeId, string url);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "Connection {ConnectionId} opened for {Client} ({Encoding})")]
    public static partial void ConnectionOpened(ILogger logger, long connectionId, string client, string encoding);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "Connection {ConnectionId} closed ({Reason})")]
    public static partial void ConnectionClosed(ILogger logger, long connectionId, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Refused connection: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Error, Message = "Request {Command} failed unexpectedly")]
    public static partial void RequestFailed(ILogger logger, string command, Exception exception);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Request {Command} failed: the store is unavailable")]
    public static partial void StoreUnavailable(ILogger logger, string command, Exception exception);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Inbox replay for {Client} failed")]
    public static partial void ReplayFailed(ILogger logger, string client, Exception exception);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "Redelivery sweep failed")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "Closing {Count} connections for shutdown")]
    public static partial void ClosingConnections(ILogger logger, int count);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Debug, Message = "Connection {ConnectionId} sent a malformed frame: {Reason}")]
    public static partial void MalformedFrame(ILogger logger, long connectionId, string reason);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "Connection {ConnectionId} failed")]
    public static partial void ConnectionFailed(ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "Store not ready at start: {Reason}")]
    public static partial void StoreNotReady(ILogger logger, string reason);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Information, Message = "Node {NodeId} joined the fleet at {Url} (peer {PeerUrl}), ring epoch {Epoch}")]
    public static partial void Joined(ILogger logger, string nodeId, string url, string peerUrl, long epoch);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Information, Message = "Redirected {Count} connections after ring epoch {Epoch}")]
    public static partial void Rebalanced(ILogger logger, int count, long epoch);

    [LoggerMessage(EventId = 1015, Level = LogLevel.Information, Message = "Peer stream to {NodeId} at {Url} connected")]
    public static partial void PeerConnected(ILogger logger, string nodeId, string url);

    [LoggerMessage(EventId = 1016, Level = LogLevel.Warning, Message = "Peer stream to {NodeId} at {Url} failed; reconnecting in {DelayMs} ms")]
    public static partial void PeerFailed(ILogger logger, string nodeId, string url, int delayMs, Exception exception);

    [LoggerMessage(EventId = 1017, Level = LogLevel.Warning, Message = "Refused a peer stream: {Reason}")]
    public static partial void PeerRefused(ILogger logger, string reason);
}
