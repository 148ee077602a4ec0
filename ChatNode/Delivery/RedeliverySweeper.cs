using ChatNode.Connections;
using ChatNode.Lifecycle;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Delivery;

/// <summary>
/// Every <see cref="DeliveryOptions.SweepInterval"/>, pushes again each connection's pushes left unacknowledged
/// for longer than <see cref="DeliveryOptions.RedeliveryTimeout"/>; every <see cref="DeliveryOptions.InboxResyncInterval"/>,
/// also pushes inbox entries older than the redelivery timeout that a connection was never pushed (a lost live
/// push). Runs at <see cref="LifecycleStage.Background"/>; its loop is owned here and awaited on stop.
/// </summary>
internal sealed class RedeliverySweeper : ILifecycleParticipant
{
    /// <summary>Inbox reads of the resync in flight at once.</summary>
    internal const int ResyncBatch = 128;

    private readonly BackgroundLoop _loop;
    private readonly ConnectionRegistry _registry;
    private readonly DeliveryService _delivery;
    private readonly DeliveryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RedeliverySweeper> _logger;
    private DateTimeOffset _nextResync;

    public RedeliverySweeper(ConnectionRegistry registry, DeliveryService delivery, IOptions<DeliveryOptions> options, TimeProvider time, ILogger<RedeliverySweeper> logger)
    {
        _registry = registry;
        _delivery = delivery;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _loop = BackgroundLoop.Every(_options.SweepInterval, time, SweepAsync);
    }

    public LifecycleStage Stage => LifecycleStage.Background;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _loop.StopAsync();

    internal async Task SweepAsync(CancellationToken cancellationToken)
    {
        var pushedBefore = _time.GetTimestamp() - (long)(_options.RedeliveryTimeout.TotalSeconds * _time.TimestampFrequency);
        var resync = _time.GetUtcNow() >= _nextResync;
        if (resync)
        {
            _nextResync = _time.GetUtcNow() + _options.InboxResyncInterval;
        }

        // Inbox reads go out ResyncBatch at a time: one pipelined flush and one wake-up for many answers, where one read
        // awaited after another cost the idle node a round trip and two thread wake-ups per connection.
        var storedBeforeUs = (_time.GetUtcNow() - _options.RedeliveryTimeout).ToUnixTimeMilliseconds() * 1000;
        var reads = resync ? new List<Task>(ResyncBatch) : null;
        foreach (var connection in _registry.Walk())
        {
            if (connection.IsClosing || connection.IsReplaying)
            {
                continue;
            }

            try
            {
                await _delivery.RedeliverAsync(connection, pushedBefore, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                DeliveryLog.SweepFailed(_logger, ex);
            }

            if (reads is not null)
            {
                reads.Add(_delivery.TryResyncAsync(connection, storedBeforeUs, cancellationToken));
                if (reads.Count == ResyncBatch)
                {
                    await Task.WhenAll(reads).ConfigureAwait(false);
                    reads.Clear();
                }
            }
        }

        if (reads is { Count: > 0 })
        {
            await Task.WhenAll(reads).ConfigureAwait(false);
        }
    }
}
