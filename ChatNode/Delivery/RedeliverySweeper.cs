using ChatNode.Connections;
using ChatNode.Diagnostics;
using ChatNode.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Delivery;

/// <summary>
/// Every <see cref="ChatNodeOptions.SweepInterval"/>, pushes again each connection's pushes left unacknowledged
/// for longer than <see cref="ChatNodeOptions.RedeliveryTimeout"/>; every <see cref="ChatNodeOptions.InboxResyncInterval"/>,
/// also pushes inbox entries older than the redelivery timeout that a connection was never pushed (a lost live
/// push). Owned by the host: started and stopped with it.
/// </summary>
internal sealed class RedeliverySweeper : BackgroundService
{
    private readonly ConnectionRegistry _registry;
    private readonly DeliveryService _delivery;
    private readonly ChatNodeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RedeliverySweeper> _logger;
    private DateTimeOffset _nextResync;

    public RedeliverySweeper(ConnectionRegistry registry, DeliveryService delivery, IOptions<ChatNodeOptions> options, TimeProvider time, ILogger<RedeliverySweeper> logger)
    {
        _registry = registry;
        _delivery = delivery;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.SweepInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await SweepAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async Task SweepAsync(CancellationToken cancellationToken)
    {
        var pushedBefore = _time.GetTimestamp() - (long)(_options.RedeliveryTimeout.TotalSeconds * _time.TimestampFrequency);
        var resync = _time.GetUtcNow() >= _nextResync;
        if (resync)
        {
            _nextResync = _time.GetUtcNow() + _options.InboxResyncInterval;
        }

        var storedBeforeUs = (_time.GetUtcNow() - _options.RedeliveryTimeout).ToUnixTimeMilliseconds() * 1000;
        foreach (var connection in _registry.Snapshot())
        {
            if (connection.IsClosing || connection.IsReplaying)
            {
                continue;
            }

            try
            {
                await _delivery.RedeliverAsync(connection, pushedBefore, cancellationToken).ConfigureAwait(false);
                if (resync)
                {
                    await _delivery.ResyncAsync(connection, storedBeforeUs, _options.ReplayPageSize, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                ChatLog.SweepFailed(_logger, ex);
            }
        }
    }
}
