using ChatNode.Lifecycle;
using ChatNode.Storage;
using ChatNode.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace ChatNode.Media;

/// <summary>
/// Prepares the bucket at start (and a lifecycle rule where the store has them, as a backstop), then every
/// <see cref="MediaOptions.SweepInterval"/> checks the uploads whose URL expired (deleting bytes of another size than
/// granted) and deletes the objects whose attachments expired, with their metadata. Runs on every node; each check and
/// each expired attachment is claimed by one of them. A check or deletion the blob store fails is retried a minute
/// later. Runs at <see cref="LifecycleStage.Background"/>; its loop is owned here and awaited on stop.
/// </summary>
internal sealed class AttachmentSweeper : ILifecycleParticipant
{
    private readonly BackgroundLoop _loop;
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
        _loop = new BackgroundLoop(RunAsync);
    }

    public LifecycleStage Stage => LifecycleStage.Background;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _loop.StopAsync();

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            // A blob store that is down at start must not stop the node (chat works without media): retry until it
            // answers, with exponential backoff and jitter from 1 s up to a minute.
            var backoff = new ResiliencePipelineBuilder { TimeProvider = _time }.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not (null or OperationCanceledException)),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromSeconds(1),
                MaxDelay = TimeSpan.FromMinutes(1),
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    MediaLog.SweepFailed(_logger, args.Outcome.Exception!);
                    return default;
                },
            }).Build();
            var lifecycle = await backoff.ExecuteAsync(async ct => await _blobs.PrepareAsync(_options.AttachmentTtl, ct).ConfigureAwait(false), stoppingToken).ConfigureAwait(false);
            MediaLog.Prepared(_logger, lifecycle);

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
            IReadOnlyList<AttachmentRecord> checks;
            do
            {
                checks = await _attachments.ClaimUploadChecksAsync(_time.GetUtcNow(), 100, cancellationToken).ConfigureAwait(false);
                foreach (var record in checks)
                {
                    await CheckUploadAsync(record, cancellationToken).ConfigureAwait(false);
                }
            }
            while (checks.Count == 100);

            IReadOnlyList<(string AttachmentId, string ObjectKey)> due;
            do
            {
                due = await _attachments.ClaimExpiredAsync(_time.GetUtcNow(), 100, cancellationToken).ConfigureAwait(false);
                foreach (var (id, key) in due)
                {
                    try
                    {
                        await _blobs.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
                        await _blobs.DeleteAsync(MediaService.SealedKey(id), cancellationToken).ConfigureAwait(false);
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

    // An upload URL cannot be bound to a length, so what was PUT with it is checked once it expired: bytes of another
    // size than granted could never be sent, and are deleted now rather than stored until the attachment expires.
    private async Task CheckUploadAsync(AttachmentRecord record, CancellationToken cancellationToken)
    {
        try
        {
            if (await _blobs.StatAsync(record.ObjectKey, cancellationToken).ConfigureAwait(false) is { } upload && upload.Size != record.Size)
            {
                await _blobs.DeleteAsync(record.ObjectKey, cancellationToken).ConfigureAwait(false);
                MediaLog.UploadDiscarded(_logger, record.AttachmentId, record.UploaderUserId, upload.Size, record.Size);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            MediaLog.UploadCheckFailed(_logger, record.AttachmentId, ex);
            await _attachments.RescheduleUploadCheckAsync(record.AttachmentId, _time.GetUtcNow().AddMinutes(1), cancellationToken).ConfigureAwait(false);
        }
    }
}
