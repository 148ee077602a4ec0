using System.Diagnostics;
using HdrHistogram;

namespace ChatNode.LoadTests.Engine;

/// <summary>
/// Everything a run measures: totals, one-second steps (for charts), latency histograms (send to SUCCESS, send to
/// delivery) overall and per step, and completeness. Thread-safe; latencies are recorded in Stopwatch ticks.
/// </summary>
public sealed class RunStats
{
    private readonly object _gate = new();
    private readonly List<StepStats> _steps = [];
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _sent;
    private long _acked;
    private long _failed;
    private long _delivered;
    private long _connected;
    private long _connectFailed;

    public LongConcurrentHistogram AckLatency { get; } = NewHistogram();

    public LongConcurrentHistogram DeliveryLatency { get; } = NewHistogram();

    public LongConcurrentHistogram ConnectLatency { get; } = NewHistogram();

    public Completeness Completeness { get; } = new();

    public long Sent => Interlocked.Read(ref _sent);

    public long Acked => Interlocked.Read(ref _acked);

    public long Failed => Interlocked.Read(ref _failed);

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Connected => Interlocked.Read(ref _connected);

    public long ConnectFailed => Interlocked.Read(ref _connectFailed);

    public long InFlight => Sent - Acked - Failed;

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_start);

    /// <summary>While false (warm-up), measurements count for completeness but not for latency or rates.</summary>
    public bool Measuring { get; set; } = true;

    public IReadOnlyList<StepStats> Steps
    {
        get
        {
            lock (_gate)
            {
                return [.. _steps];
            }
        }
    }

    public void RecordSent() => Interlocked.Increment(ref _sent);

    public void RecordFailed()
    {
        Interlocked.Increment(ref _failed);
        Step().Add(failed: 1);
    }

    public void RecordAck(long startTicks)
    {
        Interlocked.Increment(ref _acked);
        var latency = Math.Max(1, Stopwatch.GetTimestamp() - startTicks);
        if (Measuring)
        {
            AckLatency.RecordValue(latency);
        }

        Step().Add(acked: 1);
    }

    public void RecordDelivery(long sentTicks)
    {
        Interlocked.Increment(ref _delivered);
        var latency = Math.Max(1, Stopwatch.GetTimestamp() - sentTicks);
        var step = Step();
        if (Measuring)
        {
            DeliveryLatency.RecordValue(latency);
            step.Latency.RecordValue(latency);
        }

        step.Add(delivered: 1);
    }

    public void RecordConnect(long startTicks, bool ok)
    {
        if (ok)
        {
            Interlocked.Increment(ref _connected);
            ConnectLatency.RecordValue(Math.Max(1, Stopwatch.GetTimestamp() - startTicks));
        }
        else
        {
            Interlocked.Increment(ref _connectFailed);
        }
    }

    public static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private StepStats Step()
    {
        var index = (int)Elapsed.TotalSeconds;
        lock (_gate)
        {
            while (_steps.Count <= index)
            {
                _steps.Add(new StepStats(_steps.Count, NewHistogram()));
            }

            return _steps[index];
        }
    }

    private static LongConcurrentHistogram NewHistogram() => new(1, TimeStamp.Seconds(120), 3);
}

/// <summary>One second of a run.</summary>
public sealed class StepStats(int second, LongConcurrentHistogram latency)
{
    private long _acked;
    private long _delivered;
    private long _failed;

    public int Second { get; } = second;

    public LongConcurrentHistogram Latency { get; } = latency;

    public long AckedCount => Interlocked.Read(ref _acked);

    public long DeliveredCount => Interlocked.Read(ref _delivered);

    public long FailedCount => Interlocked.Read(ref _failed);

    public void Add(long acked = 0, long delivered = 0, long failed = 0)
    {
        Interlocked.Add(ref _acked, acked);
        Interlocked.Add(ref _delivered, delivered);
        Interlocked.Add(ref _failed, failed);
    }
}
