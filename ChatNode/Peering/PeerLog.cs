using Microsoft.Extensions.Logging;

namespace ChatNode.Peering;

/// <summary>Peer stream log events; EventIds 1015-1017 and 1400-1499.</summary>
internal static partial class PeerLog
{
    [LoggerMessage(EventId = 1015, Level = LogLevel.Information, Message = "Peer stream to {NodeId} at {Url} connected")]
    public static partial void Connected(ILogger logger, string nodeId, string url);

    [LoggerMessage(EventId = 1016, Level = LogLevel.Warning, Message = "Peer stream to {NodeId} at {Url} failed; reconnecting in {DelayMs} ms")]
    public static partial void Failed(ILogger logger, string nodeId, string url, int delayMs, Exception exception);

    [LoggerMessage(EventId = 1017, Level = LogLevel.Warning, Message = "Refused a peer stream: {Reason}")]
    public static partial void Refused(ILogger logger, string reason);
}
