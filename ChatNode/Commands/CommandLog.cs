using Microsoft.Extensions.Logging;

namespace ChatNode.Commands;

/// <summary>Command log events; EventIds 1005-1006 and 1500-1599.</summary>
internal static partial class CommandLog
{
    [LoggerMessage(EventId = 1005, Level = LogLevel.Error, Message = "Request {Command} failed unexpectedly")]
    public static partial void RequestFailed(ILogger logger, string command, Exception exception);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Request {Command} failed: the store is unavailable")]
    public static partial void StoreUnavailable(ILogger logger, string command, Exception exception);
}
