using ChatNode.Connections;
using ChatNode.Lifecycle;
using ChatNode.Protocol;
using ChatNode.Registry.Ring;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Fleet;

/// <summary>
/// The one loop that moves client connections to the node that owns their user in the target ring, for joins and
/// drains alike: a <c>redirect</c> frame to that node (with the ring epoch) and close 4000. After every ring change, and
/// every few seconds while connections are misplaced, it scans this node's connections; the misplaced ones are shuffled
/// and moved at an even pace spread over <see cref="FleetOptions.HandoffWindow"/> from the first move of the episode,
/// never faster than <see cref="FleetOptions.HandoffMaxRate"/> (a drain may ask for a rate of its own); the loop wakes
/// up at jittered intervals (between half and one and a half times the mean, at least every 10 ms) and moves what is due.
/// A connection whose target owner is unreachable stays until it is reachable or the ring changes. Runs at
/// <see cref="LifecycleStage.Background"/>.
/// </summary>
internal sealed class HandoffLoop : ILifecycleParticipant
{
    private static readonly TimeSpan Rescan = TimeSpan.FromSeconds(2);

    // The handoff wakes up at most this often (moving several connections per wake-up at high rates).
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(10);

    // The most moves saved up while the loop could not run (a pause), in time at the current pace.
    private static readonly TimeSpan MaxBurst = TimeSpan.FromMilliseconds(100);

    private readonly ConnectionRegistry _connections;
    private readonly Ownership _ownership;
    private readonly IPeerDirectory _peers;
    private readonly FleetOptions _options;
    private readonly FleetMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<HandoffLoop> _logger;
    private readonly BackgroundLoop _loop;
    private readonly object _gate = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _rateOverride;
    private int _pending;

    public HandoffLoop(ConnectionRegistry connections, Ownership ownership, IPeerDirectory peers, IOptions<FleetOptions> options, FleetMetrics metrics, TimeProvider time, ILogger<HandoffLoop> logger)
    {
        _connections = connections;
        _ownership = ownership;
        _peers = peers;
        _options = options.Value;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _loop = new BackgroundLoop(RunAsync);
        metrics.ObservePendingHandoffs(() => Volatile.Read(ref _pending));
    }

    public LifecycleStage Stage => LifecycleStage.Background;

    /// <summary>Connections found misplaced by the last scan and not moved yet.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _loop.StopAsync();

    /// <summary>Scans again now (the ring changed).</summary>
    public void Wake()
    {
        lock (_gate)
        {
            _wake.TrySetResult();
        }
    }

    /// <summary>Moves <paramref name="perSecond"/> connections a second from now on, whatever the window (a drain's rate); 0 restores the configured pace.</summary>
    public void OverrideRate(int perSecond)
    {
        Volatile.Write(ref _rateOverride, Math.Max(0, perSecond));
        Wake();
    }

    /// <summary>Tells the client where its user lives now and closes with <see cref="CloseCode.Redirect"/>.</summary>
    internal static void Redirect(ClientConnection connection, NodeInfo owner, long epoch)
    {
        connection.Send(new OutboundFrame(Frames.Redirect(owner.WebSocketUrl, owner.NodeId, epoch)));
        connection.Close(CloseCode.Redirect, "user owned by " + owner.NodeId);
    }

    private async Task RunAsync(CancellationToken stop)
    {
        DateTimeOffset? episodeEnds = null;
        var random = new Random();
        // What the last scan that found nothing misplaced saw: while the view and the connections are the same, a
        // rescan would find nothing either (an idle node holding many connections does not walk them every 2 s).
        (OwnershipView? View, long Added) clean = (null, -1);
        while (!stop.IsCancellationRequested)
        {
            Task woken;
            lock (_gate)
            {
                if (_wake.Task.IsCompleted)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                woken = _wake.Task;
            }

            var seen = (_ownership.View, _connections.Added);
            if (seen == clean)
            {
                await Task.WhenAny(woken, Task.Delay(Rescan, _time, stop)).ConfigureAwait(false);
                continue;
            }

            var misplaced = Misplaced(seen.View);
            Volatile.Write(ref _pending, misplaced.Count);
            if (misplaced.Count == 0)
            {
                episodeEnds = null;
                clean = seen;
                await Task.WhenAny(woken, Task.Delay(Rescan, _time, stop)).ConfigureAwait(false);
                continue;
            }

            clean = (null, -1);

            episodeEnds ??= _time.GetUtcNow() + _options.HandoffWindow;
            random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(misplaced));
            var moved = await MoveAsync(misplaced, episodeEnds.Value, woken, random, stop).ConfigureAwait(false);
            if (moved > 0)
            {
                FleetLog.HandedOff(_logger, moved, _ownership.Epoch);
            }

            if (!woken.IsCompleted)
            {
                // What is left waits for an unreachable owner: look again shortly, or when the ring changes.
                await Task.WhenAny(woken, Task.Delay(Rescan, _time, stop)).ConfigureAwait(false);
            }
        }
    }

    // Moves the connections in order until done, or until the ring changes (the caller scans again). The pace is kept
    // by credit: every wake-up earns the moves due for the time that passed (so the rate holds however coarse the timer),
    // and the wake-ups themselves are jittered; at most MaxBurst worth of moves is saved up across a stall.
    private async Task<int> MoveAsync(List<ClientConnection> misplaced, DateTimeOffset episodeEnds, Task woken, Random random, CancellationToken stop)
    {
        var moved = 0;
        var next = 0;
        var credit = 1.0;
        var last = _time.GetTimestamp();
        while (next < misplaced.Count && !woken.IsCompleted)
        {
            var mean = MeanInterval(misplaced.Count - next, episodeEnds);
            var now = _time.GetTimestamp();
            credit = Math.Min(credit + (_time.GetElapsedTime(last, now) / mean), Math.Max(1, MaxBurst / mean));
            last = now;
            var view = _ownership.View;
            for (; credit >= 1 && next < misplaced.Count; next++)
            {
                var connection = misplaced[next];
                if (connection.IsClosing || view.RedirectFor(connection.Address.UserId) is not { } target || !_peers.IsReachable(target))
                {
                    continue;
                }

                Redirect(connection, target, view.Epoch);
                _metrics.HandedOff();
                moved++;
                credit--;
            }

            Volatile.Write(ref _pending, misplaced.Count - next);
            if (next < misplaced.Count)
            {
                var wait = mean > Tick ? mean : Tick;
                await Task.WhenAny(woken, Task.Delay(wait * (0.5 + random.NextDouble()), _time, stop)).ConfigureAwait(false);
            }
        }

        return moved;
    }

    // A drain's explicit rate; otherwise what is left spread over the rest of the window, never faster than the maximum rate.
    private TimeSpan MeanInterval(int left, DateTimeOffset episodeEnds)
    {
        if (Volatile.Read(ref _rateOverride) is > 0 and var rate)
        {
            return TimeSpan.FromSeconds(1.0 / rate);
        }

        var maxRate = _options.HandoffMaxRate;
        var remaining = episodeEnds - _time.GetUtcNow();
        var spread = remaining > TimeSpan.Zero ? remaining / left : TimeSpan.Zero;
        var fastest = TimeSpan.FromSeconds(1.0 / maxRate);
        return spread > fastest ? spread : fastest;
    }

    private List<ClientConnection> Misplaced(OwnershipView view)
    {
        var misplaced = new List<ClientConnection>();
        foreach (var connection in _connections.Walk())
        {
            if (!connection.IsClosing && view.RedirectFor(connection.Address.UserId) is not null)
            {
                misplaced.Add(connection);
            }
        }

        return misplaced;
    }
}
