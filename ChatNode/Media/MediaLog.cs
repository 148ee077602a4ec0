using Microsoft.Extensions.Logging;

namespace ChatNode.Media;

/// <summary>Media log events; EventIds 1100-1199.</summary>
internal static partial class MediaLog
{
    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Media bucket ready; the store expires objects by itself: {Lifecycle}")]
    public static partial void Prepared(ILogger logger, bool lifecycle);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Debug, Message = "Deleted expired attachment {AttachmentId}")]
    public static partial void Deleted(ILogger logger, string attachmentId);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Could not delete expired attachment {AttachmentId}; retrying later")]
    public static partial void DeleteFailed(ILogger logger, string attachmentId, Exception exception);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Attachment sweep failed")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "Deleted the upload of attachment {AttachmentId} by {UserId}: {Size} bytes, {Granted} granted")]
    public static partial void UploadDiscarded(ILogger logger, string attachmentId, string userId, long size, long granted);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Warning, Message = "Could not check the upload of attachment {AttachmentId}; retrying later")]
    public static partial void UploadCheckFailed(ILogger logger, string attachmentId, Exception exception);
}
