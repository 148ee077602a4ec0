using Microsoft.Extensions.Logging;

namespace ChatNode.Endpoints;

/// <summary>Endpoint log events (connections); EventIds 1002-1004, 1007, 1010-1011 and 1600-1699.</summary>
internal static partial class EndpointLog
{
    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "Connection {ConnectionId} opened for {Client} ({Encoding})")]
    public static partial void ConnectionOpened(ILogger logger, long connectionId, string client, string encoding);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "Connection {ConnectionId} closed ({Reason})")]
    public static partial void ConnectionClosed(ILogger logger, long connectionId, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Refused connection: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Inbox replay for {Client} failed")]
    public static partial void ReplayFailed(ILogger logger, string client, Exception exception);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Debug, Message = "Connection {ConnectionId} sent a malformed frame: {Reason}")]
    public static partial void MalformedFrame(ILogger logger, long connectionId, string reason);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "Connection {ConnectionId} failed")]
    public static partial void ConnectionFailed(ILogger logger, long connectionId, Exception exception);
}
