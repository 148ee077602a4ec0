using ChatNode.Lifecycle;
using Microsoft.Extensions.Logging;

namespace ChatNode.Hosting;

/// <summary>Hosting log events; EventIds 1001, 1012 and 1900-1999.</summary>
internal static partial class HostingLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Node {NodeId} listening on {Url}")]
    public static partial void Listening(ILogger logger, string nodeId, string url);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "Store not ready at start: {Reason}")]
    public static partial void StoreNotReady(ILogger logger, string reason);

    [LoggerMessage(EventId = 1901, Level = LogLevel.Debug, Message = "Starting {Stage}: {Component}")]
    public static partial void StageStarting(ILogger logger, LifecycleStage stage, string component);

    [LoggerMessage(EventId = 1902, Level = LogLevel.Debug, Message = "Stopping {Stage}: {Component}")]
    public static partial void StageStopping(ILogger logger, LifecycleStage stage, string component);

    [LoggerMessage(EventId = 1903, Level = LogLevel.Error, Message = "Stopping {Component} failed")]
    public static partial void StopFailed(ILogger logger, string component, Exception exception);
}
