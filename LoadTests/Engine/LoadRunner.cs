using System.Diagnostics;
using ChatNode.LoadTests.Scenarios;

namespace ChatNode.LoadTests.Engine;

/// <summary>
/// Runs a scenario: setup, warm-up (load not measured), the measured load (open loop at a rate, optionally ramped, or
/// closed loop at a concurrency), the scenario's after-load step, then waits (bounded) for every confirmed message to
/// arrive. Sending stops at the duration or the message cap, whichever comes first. Every second it hands a
/// <see cref="ProgressSnapshot"/> to <paramref name="progress"/>. The watched processes' CPU is read at the start and
/// the end of the measured load (<see cref="Cpu"/>), so set-up, warm-up and the drain do not count.
/// </summary>
public sealed class LoadRunner(LoadContext context, Scenario scenario, Action<ProgressSnapshot> progress)
{
    private long _next;
    private readonly Stopwatch _measured = new();
    private string _phase = "setup";
    private DateTime? _phaseEnds;
    private string? _note;

    /// <summary>Seconds from the end of the warm-up to the end of the drain: the base of the reported rates.</summary>
    public double MeasuredSeconds => _measured.Elapsed.TotalSeconds;

    /// <summary>The watched processes' CPU over the measured load, and the deliveries in it; null until the load ended.</summary>
    public CpuWindow? Cpu { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var stats = context.Stats;
        var options = context.Options;
        using var reporter = new CancellationTokenSource();
        var reporting = ReportAsync(reporter.Token);
        try
        {
            var setup = Stopwatch.StartNew();
            await scenario.SetupAsync(context, cancellationToken);
            _note = $"{scenario.Name}: set up {stats.Connected:N0} clients in {setup.Elapsed.TotalSeconds:0.0}s";
            if (scenario.OwnsLoad)
            {
                Phase("load", options.Duration);
                _measured.Start();
                var whole = CpuWindow.Open(context);
                await scenario.RunAsync(context, cancellationToken);
                _measured.Stop();
                Cpu = whole.Close(context);
                return;
            }

            if (options.Warmup > TimeSpan.Zero)
            {
                Phase("warmup", options.Warmup);
                stats.Measuring = false;
                await LoadAsync(options.Warmup, ramp: TimeSpan.Zero, cancellationToken);
                stats.Measuring = true;
            }

            Phase("load", options.Duration);
            _measured.Start();
            var window = CpuWindow.Open(context);
            await LoadAsync(options.Duration, options.Ramp, cancellationToken);
            Cpu = window.Close(context);
            Phase("drain", null);
            await scenario.AfterLoadAsync(context, cancellationToken);
            var drain = Stopwatch.StartNew();
            while (!stats.Completeness.IsComplete && drain.Elapsed < TimeSpan.FromSeconds(30) && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(20, cancellationToken);
            }

            _measured.Stop();
        }
        finally
        {
            Phase("done", null);
            await reporter.CancelAsync();
            await reporting;
            progress(Snapshot(0));
        }
    }

    private void Phase(string phase, TimeSpan? length)
    {
        _phase = phase;
        _phaseEnds = length is { } l ? DateTime.UtcNow + l : null;
    }

    private async Task LoadAsync(TimeSpan duration, TimeSpan ramp, CancellationToken cancellationToken)
    {
        using var phase = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        phase.CancelAfter(duration);
        var options = context.Options;
        if (options.Rate > 0)
        {
            await OpenLoopAsync(options.Rate, ramp, phase.Token);
        }
        else
        {
            await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => ClosedLoopAsync(phase.Token)));
        }
    }

    // A constant concurrency: each worker sends its next message when the previous one is answered.
    private async Task ClosedLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested && TryTake(out var index))
        {
            await scenario.SendOneAsync(context, index, CancellationToken.None);
        }
    }

    // A constant arrival rate, whatever the answers do (ramped linearly from zero over `ramp`); sends in flight are
    // capped so that an overloaded fleet cannot make the generator grow without bound.
    private async Task OpenLoopAsync(int rate, TimeSpan ramp, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var issued = 0L;
        var inFlight = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            var seconds = clock.Elapsed.TotalSeconds;
            var rampSeconds = ramp.TotalSeconds;
            var due = rampSeconds > 0 && seconds < rampSeconds
                ? (long)(rate * seconds * seconds / (2 * rampSeconds))
                : (long)(rate * (seconds - (rampSeconds / 2)));
            while (issued < due && inFlight.Count < 100_000 && TryTake(out var index))
            {
                inFlight.Add(scenario.SendOneAsync(context, index, CancellationToken.None));
                issued++;
            }

            if (Interlocked.Read(ref _next) >= context.Options.MaxMessages)
            {
                break;
            }

            inFlight.RemoveAll(t => t.IsCompleted);
            try
            {
                await Task.Delay(1, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await Task.WhenAll(inFlight);
    }

    private bool TryTake(out long index)
    {
        index = Interlocked.Increment(ref _next) - 1;
        return index < context.Options.MaxMessages;
    }

    private async Task ReportAsync(CancellationToken stop)
    {
        long lastDelivered = 0;
        var last = Stopwatch.GetTimestamp();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            var delivered = context.Stats.Delivered;
            var rate = (delivered - lastDelivered) / Stopwatch.GetElapsedTime(last).TotalSeconds;
            last = Stopwatch.GetTimestamp();
            lastDelivered = delivered;
            progress(Snapshot(rate));
        }
    }

    private ProgressSnapshot Snapshot(double rate)
    {
        var stats = context.Stats;
        var latency = stats.DeliveryLatency;
        var (p50, p99) = latency.TotalCount > 0
            ? (RunStats.Milliseconds(latency.GetValueAtPercentile(50)), RunStats.Milliseconds(latency.GetValueAtPercentile(99)))
            : (0, 0);
        var remaining = _phaseEnds is { } ends ? ends - DateTime.UtcNow : (TimeSpan?)null;
        return new ProgressSnapshot(stats.Elapsed, _phase, remaining < TimeSpan.Zero ? TimeSpan.Zero : remaining, stats.Sent, stats.InFlight, stats.Failed,
            stats.Delivered, rate, p50, p99, stats.Connected, Interlocked.Exchange(ref _note, null));
    }
}
