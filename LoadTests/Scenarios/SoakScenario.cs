using System.Collections.Concurrent;
using System.Diagnostics;
using ChatNode.Client;
using ChatNode.LoadTests.Engine;
using ChatNode.LoadTests.Reports;
using HdrHistogram;

namespace ChatNode.LoadTests.Scenarios;

/// <summary>
/// The soak: the <c>mixed</c> load (with every node as a seed) plus idle clients that behave like apps, against a local
/// fleet, while a fault is injected every <see cref="LoadOptions.FaultEvery"/>, in turn from <see cref="LoadOptions.Faults"/>:
/// <list type="bullet">
/// <item><c>join</c>: a new node joins.</item>
/// <item><c>drain</c>: a node is drained with the admin request (the newest one while the fleet is larger than it started;
/// otherwise one that is restarted afterwards).</item>
/// <item><c>sigterm</c>: a node gets SIGTERM (it drains), then is restarted.</item>
/// <item><c>kill</c>: a node gets SIGKILL; once its users were served elsewhere (after its lease expired) it is restarted.</item>
/// <item>(<c>restart</c>: not a fault to ask for, but how the report shows a node coming back after one of the three above.)</item>
/// <item><c>redis-master</c>: a Redis master gets SIGKILL; it is restarted once its replica took over.</item>
/// <item><c>etcd</c>: etcd stops for 10 s and resumes.</item>
/// </list>
/// Each fault is reported (<see cref="FaultReport"/>); the run as a whole must lose nothing confirmed and show nothing
/// twice to an app, and every fault must have been injected, or the tool exits 1.
/// </summary>
public sealed class SoakScenario : Scenario
{
    private static readonly TimeSpan EtcdOutage = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan NodeExit = TimeSpan.FromSeconds(120);

    private readonly MixedScenario _mixed = new();
    private readonly List<FaultReport> _faults = [];
    private readonly ConcurrentDictionary<string, List<(DateTime At, ConnectionEvent Change)>> _history = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<ChatClient> _idle = [];
    private Task _injecting = Task.CompletedTask;
    private Window? _window;
    private int _initialNodes;

    public override string Name => "soak";

    public override IReadOnlyList<FaultReport> Faults
    {
        get
        {
            lock (_faults)
            {
                return [.. _faults];
            }
        }
    }

    public override async Task SetupAsync(LoadContext context, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet ?? throw new ArgumentException("the soak drives a fleet it starts itself (--local N, default 4)");
        _initialNodes = fleet.Running.Count;
        context.ConnectionChanged += (key, change) =>
        {
            var history = _history.GetOrAdd(key, _ => []);
            lock (history)
            {
                history.Add((DateTime.UtcNow, change));
            }
        };
        context.Delivered += (key, node, ticks) =>
        {
            if (Volatile.Read(ref _window) is { } window && (window.Target.Length == 0 || node != window.Target))
            {
                window.Others.RecordValue(Math.Max(1, ticks));
            }
        };
        await _mixed.SetupAsync(context, cancellationToken);
        await ForEachAsync(context.Options.Idle, async i => _idle.Add(await context.ConnectIdleAsync(context.User("idle", i), cancellationToken)), cancellationToken);
        _injecting = InjectAsync(context, fleet, _stop.Token);
    }

    public override Task SendOneAsync(LoadContext context, long index, CancellationToken cancellationToken) => _mixed.SendOneAsync(context, index, cancellationToken);

    public override async Task AfterLoadAsync(LoadContext context, CancellationToken cancellationToken)
    {
        // The fault in progress finishes (a killed node is restarted) before the completeness check.
        await _stop.CancelAsync();
        await _injecting;
        await _mixed.AfterLoadAsync(context, cancellationToken);
        Extra["faults"] = Faults.Count;
        Extra["faults_failed"] = Faults.Count(f => f.Error is not null);
        Extra["idle_clients"] = _idle.Count;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stop.Dispose();
            _mixed.Dispose();
        }

        base.Dispose(disposing);
    }

    private async Task InjectAsync(LoadContext context, LocalFleet fleet, CancellationToken stop)
    {
        var kinds = context.Options.Faults;
        try
        {
            // The first fault comes one interval after the warm-up.
            await Task.Delay(context.Options.Warmup + context.Options.FaultEvery, stop);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var started = DateTime.UtcNow;
                var (report, restart) = await InjectOneAsync(kinds[i % kinds.Count], context, fleet);
                lock (_faults)
                {
                    _faults.Add(report);
                }

                // A node the fault took away comes back as an event of its own: its users move back to it.
                if (restart is { } index)
                {
                    var back = await MeasuredAsync("restart", LocalFleet.NodeId(index), context, async () =>
                    {
                        await fleet.RestartAsync(index);
                        return LocalFleet.NodeId(index);
                    });
                    lock (_faults)
                    {
                        _faults.Add(back);
                    }
                }

                var next = started + context.Options.FaultEvery - DateTime.UtcNow;
                if (next > TimeSpan.Zero)
                {
                    await Task.Delay(next, stop);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // Injects one fault and measures it until Settle after it was injected; returns the node to restart, if any.
    private async Task<(FaultReport Report, int? Restart)> InjectOneAsync(string kind, LoadContext context, LocalFleet fleet)
    {
        var running = fleet.Running;
        var index = kind is "drain" && running.Count > _initialNodes ? running[^1] : running[Random.Shared.Next(running.Count)];
        var target = kind is "redis-master" or "etcd" or "join" ? "" : LocalFleet.NodeId(index);
        int? restart = null;
        var report = await MeasuredAsync(kind, target, context, async () =>
        {
            switch (kind)
            {
                case "join":
                    return LocalFleet.NodeId(await fleet.JoinAsync());
                case "drain":
                    await fleet.DrainAsync(index, rate: 0, NodeExit);
                    restart = fleet.Running.Count < _initialNodes ? index : null;
                    return target;
                case "sigterm":
                    await fleet.StopAsync(index, NodeExit);
                    restart = index;
                    return target;
                case "kill":
                    var placement = context.Placement;
                    fleet.Kill(index);
                    restart = index;
                    await WaitServedElsewhereAsync(context, target, placement, TimeSpan.FromSeconds(60));
                    return target;
                case "redis-master":
                    await fleet.KillRedisMasterAsync(TimeSpan.FromSeconds(90));
                    return "";
                case "etcd":
                    await fleet.EtcdOutageAsync(EtcdOutage);
                    return "";
                default:
                    throw new ArgumentException($"unknown fault '{kind}'");
            }
        });
        return (report, restart);
    }

    // Runs one event and measures it: from its start until Settle after it was done. The event returns its target node
    // (a join knows it only once it is done).
    private async Task<FaultReport> MeasuredAsync(string kind, string target, LoadContext context, Func<Task<string>> inject)
    {
        var window = new Window(target, new LongConcurrentHistogram(1, TimeStamp.Seconds(120), 3));
        var placement = context.Placement;
        var atSecond = context.Stats.Elapsed.TotalSeconds;
        var start = DateTime.UtcNow;
        Volatile.Write(ref _window, window);
        string? error = null;
        try
        {
            target = await inject();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            error = ex.Message;
        }

        var injected = DateTime.UtcNow - start;
        await Task.Delay(context.Options.Settle);
        Volatile.Write(ref _window, null);
        return Measure(kind, target, atSecond, start, injected, placement, window, error);
    }

    // Until every client that was on the killed node is connected to another one (or the deadline).
    private static async Task WaitServedElsewhereAsync(LoadContext context, string node, IReadOnlyDictionary<string, string?> placement, TimeSpan timeout)
    {
        var affected = placement.Where(p => p.Value == node).Select(p => p.Key).ToArray();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout && affected.Any(key => context.NodeOf(key) is null || context.NodeOf(key) == node))
        {
            await Task.Delay(100);
        }
    }

    private FaultReport Measure(string kind, string target, double atSecond, DateTime start, TimeSpan injected, IReadOnlyDictionary<string, string?> placement, Window window, string? error)
    {
        // Affected: the clients on the faulted node when the fault began, or (a join, a restart) those that moved to it.
        var affected = kind is "join" or "restart"
            ? _history.Where(h => Snapshot(h.Value).Any(e => e.At >= start && e.Change.NodeId == target)).Select(h => h.Key).ToArray()
            : placement.Where(p => target.Length > 0 && p.Value == target).Select(p => p.Key).ToArray();
        var waited = new LongHistogram(600_000, 3);
        var served = 0;
        var moved = 0;
        var redirects = 0;
        var moves = new List<DateTime>();
        foreach (var key in affected)
        {
            var events = _history.TryGetValue(key, out var list) ? Snapshot(list).Where(e => e.At >= start).ToArray() : [];
            var lost = events.FirstOrDefault(e => e.Change.Close is not null);
            if (lost.Change is null)
            {
                continue;
            }

            var back = events.FirstOrDefault(e => e.At >= lost.At && e.Change.NodeId is not null);
            if (back.Change is null)
            {
                continue;
            }

            served++;
            redirects = Math.Max(redirects, back.Change.Redirects);
            waited.RecordValue(Math.Max(1, (long)(back.At - lost.At).TotalMilliseconds));
            if (back.Change.NodeId != placement.GetValueOrDefault(key))
            {
                moved++;
                moves.Add(lost.At);
            }
        }

        var span = moves.Count > 1 ? (moves.Max() - moves.Min()).TotalSeconds : 0;
        return new FaultReport(
            kind,
            target,
            atSecond,
            injected.TotalSeconds,
            affected.Length,
            served,
            Milliseconds(waited),
            moved,
            span > 0 ? moved / span : 0,
            redirects,
            window.Others.TotalCount > 0 ? RunStats.Milliseconds(window.Others.GetValueAtPercentile(99)) : 0,
            error);
    }

    private static (DateTime At, ConnectionEvent Change)[] Snapshot(List<(DateTime At, ConnectionEvent Change)> events)
    {
        lock (events)
        {
            return [.. events];
        }
    }

    // The histogram counts milliseconds already.
    private static LatencySummary Milliseconds(HistogramBase histogram) => histogram.TotalCount == 0
        ? new LatencySummary(0, 0, 0, 0, 0, 0)
        : new LatencySummary(histogram.TotalCount, histogram.GetValueAtPercentile(50), histogram.GetValueAtPercentile(90), histogram.GetValueAtPercentile(99),
            histogram.GetValueAtPercentile(99.9), histogram.GetMaxValue());

    /// <summary>A fault in progress: its node, and the send-to-delivery latency of the clients elsewhere meanwhile.</summary>
    private sealed record Window(string Target, LongConcurrentHistogram Others);
}
