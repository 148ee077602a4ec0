using Microsoft.Extensions.Logging;

namespace ChatNode.Registry;

/// <summary>Registry log events; EventIds 2000-2999.</summary>
internal static partial class RegistryLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Ring epoch {Epoch}: {Members}")]
    public static partial void RingChanged(ILogger logger, long epoch, string members);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Membership watch failed, keeping ring epoch {Epoch}; retrying in {DelayMs} ms")]
    public static partial void WatchFailed(ILogger logger, long epoch, int delayMs, Exception exception);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Registration of {NodeId} lost; re-registering in {DelayMs} ms")]
    public static partial void RegistrationLost(ILogger logger, string nodeId, int delayMs, Exception? exception);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Registered {NodeId} generation {Generation} under lease {LeaseId:x}")]
    public static partial void Registered(ILogger logger, string nodeId, long generation, long leaseId);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "Deregistered {NodeId}")]
    public static partial void Deregistered(ILogger logger, string nodeId);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "No membership read within {TimeoutMs} ms of start; serving with an empty ring until etcd answers")]
    public static partial void StartTimedOut(ILogger logger, int timeoutMs);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Warning, Message = "Ignoring malformed member record at {Key}")]
    public static partial void MalformedMember(ILogger logger, string key);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Debug, Message = "Membership watch attempt {Attempt} failed, retrying in {DelayMs} ms: {Reason}")]
    public static partial void WatchRetrying(ILogger logger, int attempt, int delayMs, string reason);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Debug, Message = "Registration of {NodeId}, attempt {Attempt}, failed; retrying in {DelayMs} ms: {Reason}")]
    public static partial void RegistrationRetrying(ILogger logger, string nodeId, int attempt, int delayMs, string reason);
}
