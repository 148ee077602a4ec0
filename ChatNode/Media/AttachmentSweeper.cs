using ChatNode.Storage;
using ChatNode.Storage.Blobs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Media;

/// <summary>
/// Prepares the bucket at start (and a lifecycle rule where the store has them, as a backstop), then every
/// <see cref="MediaOptions.SweepInterval"/> deletes the objects whose attachments expired, with their metadata. Runs on
/// every node; each expired attachment is claimed by one of them. An object that cannot be deleted is retried a
/// minute later. Owned by the host.
/// </summary>
internal sealed class AttachmentSweeper : BackgroundService
{
    private readonly IBlobStore _blobs;
    private readonly IAttachmentStore _attachments;
    private readonly MediaOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<AttachmentSweeper> _logger;

    public AttachmentSweeper(IBlobStore blobs, IAttachmentStore attachments, IOptions<MediaOptions> options, TimeProvider time, ILogger<AttachmentSweeper> logger)
    {
        _blobs = blobs;
        _attachments = attachments;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // A blob store that is down at start must not stop the node (chat works without media): retry until it answers.
            var delay = TimeSpan.FromSeconds(1);
            while (true)
            {
                try
                {
                    MediaLog.Prepared(_logger, await _blobs.PrepareAsync(_options.AttachmentTtl, stoppingToken).ConfigureAwait(false));
                    break;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    MediaLog.SweepFailed(_logger, ex);
                    await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
                    delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 60));
                }
            }

            using var timer = new PeriodicTimer(_options.SweepInterval, _time);
            do
            {
                await SweepAsync(stoppingToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async Task SweepAsync(CancellationToken cancellationToken)
    {
        try
        {
            IReadOnlyList<(string AttachmentId, string ObjectKey)> due;
            do
            {
                due = await _attachments.ClaimExpiredAsync(_time.GetUtcNow(), 100, cancellationToken).ConfigureAwait(false);
                foreach (var (id, key) in due)
                {
                    try
                    {
                        await _blobs.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
                        MediaLog.Deleted(_logger, id);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        MediaLog.DeleteFailed(_logger, id, ex);
                        await _attachments.RescheduleAsync(id, key, _time.GetUtcNow().AddMinutes(1), cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            while (due.Count == 100);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The next tick tries again; a sweep never takes the node down.
            MediaLog.SweepFailed(_logger, ex);
        }
    }
}

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
}
