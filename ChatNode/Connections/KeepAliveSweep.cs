using ChatNode.Lifecycle;
using Microsoft.Extensions.Options;

namespace ChatNode.Connections;

/// <summary>
/// Keeps the connections whose transport allows it (<see cref="IKeepAliveTransport"/>) alive with one periodic walk for
/// the node instead of a timer per connection: a connection that sent nothing for
/// <see cref="ConnectionOptions.KeepAliveInterval"/> gets a ping (once an interval); one silent for the interval and
/// <see cref="ConnectionOptions.KeepAliveTimeout"/> more is aborted, as a dead peer. The walk runs every quarter of the
/// shorter of the two (<see cref="Period"/>). Runs at <see cref="LifecycleStage.Background"/>; its loop is owned here
/// and awaited on stop.
/// </summary>
public sealed class KeepAliveSweep : ILifecycleParticipant
{
    private readonly BackgroundLoop _loop;
    private readonly ConnectionRegistry _registry;
    private readonly ConnectionOptions _options;
    private readonly TimeProvider _time;

    public KeepAliveSweep(ConnectionRegistry registry, IOptions<ConnectionOptions> options, TimeProvider time)
    {
        _registry = registry;
        _options = options.Value;
        _time = time;
        _loop = BackgroundLoop.Every(Period, time, stoppingToken =>
        {
            Sweep(stoppingToken);
            return Task.CompletedTask;
        });
    }

    public LifecycleStage Stage => LifecycleStage.Background;

    /// <summary>How often the walk runs: a quarter of the shorter setting, at least every 50 ms.</summary>
    public TimeSpan Period => TimeSpan.FromTicks(Math.Max(Math.Min(_options.KeepAliveInterval.Ticks, _options.KeepAliveTimeout.Ticks) / 4, TimeSpan.FromMilliseconds(50).Ticks));

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _loop.StopAsync();

    /// <summary>
    /// One walk: pings the silent connections and aborts the dead ones; returns how many of each. Never waits on a
    /// socket: a ping that cannot be written at once (a peer that does not read) finishes in the background.
    /// </summary>
    public (int Pinged, int Aborted) Sweep(CancellationToken cancellationToken)
    {
        var now = _time.GetTimestamp();
        var interval = (long)(_options.KeepAliveInterval.TotalSeconds * _time.TimestampFrequency);
        var timeout = (long)(_options.KeepAliveTimeout.TotalSeconds * _time.TimestampFrequency);
        var (pinged, aborted) = (0, 0);
        foreach (var connection in _registry.Walk())
        {
            if (connection.KeepAlive is not { } transport || connection.IsClosing || connection.Aborted.IsCancellationRequested)
            {
                continue;
            }

            var silent = now - transport.LastReceived;
            if (silent >= interval + timeout)
            {
                connection.Abort();
                aborted++;
            }
            else if (silent >= interval && now - transport.LastPinged >= interval)
            {
                try
                {
                    var ping = transport.PingAsync(cancellationToken);
                    if (!ping.IsCompletedSuccessfully)
                    {
                        _ = ObserveAsync(ping);
                    }

                    pinged++;
                }
                catch (Exception ex) when (IsConnectionGone(ex))
                {
                    // The connection is going away; its receive loop sees the same and ends it.
                }
            }
        }

        return (pinged, aborted);
    }

    private static bool IsConnectionGone(Exception ex) => ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException;

    private static async Task ObserveAsync(ValueTask ping)
    {
        try
        {
            await ping.ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionGone(ex))
        {
        }
    }
}
