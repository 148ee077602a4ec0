using Microsoft.Extensions.Logging;

namespace ChatNode.Peering;

/// <summary>Peer stream log events; EventIds 1015-1017 and 1400-1499. A peer's outage logs a warning when it starts and an information when it ends.</summary>
internal static partial class PeerLog
{
    [LoggerMessage(EventId = 1015, Level = LogLevel.Information, Message = "Peer stream to {NodeId} at {Url} open (after {FailedAttempts} failed attempts)")]
    public static partial void Connected(ILogger logger, string nodeId, string url, int failedAttempts);

    [LoggerMessage(EventId = 1016, Level = LogLevel.Warning, Message = "Peer stream to {NodeId} at {Url} lost; reopening")]
    public static partial void Lost(ILogger logger, string nodeId, string url, Exception exception);

    [LoggerMessage(EventId = 1017, Level = LogLevel.Warning, Message = "Refused a peer call: {Reason} ({Suppressed} more refused since the last such warning)")]
    public static partial void Refused(ILogger logger, string reason, long suppressed);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "Peer {NodeId} at {Url} does not answer; retrying with backoff")]
    public static partial void Unreachable(ILogger logger, string nodeId, string url, Exception exception);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Debug, Message = "Peer {NodeId}: attempt {Attempt} failed, next in {DelayMs} ms: {Reason}")]
    public static partial void StillUnreachable(ILogger logger, string nodeId, int attempt, int delayMs, string reason);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Debug, Message = "Fenced {Users} users of delivery {DeliveryId}: routed at epoch {SenderEpoch}, owned in neither ring at epoch {Epoch}")]
    public static partial void Fenced(ILogger logger, string deliveryId, int users, long senderEpoch, long epoch);
}
