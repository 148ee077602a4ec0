using System.Globalization;

namespace ChatNode.LoadTests.Engine;

/// <summary>
/// The CPU seconds each watched process used over a stretch of a run, and the deliveries in the same stretch: CPU per
/// delivery is the one divided by the other. A process gone by the end (a node a fault stopped) is left out. Also the
/// load tool's own garbage collections in the stretch: while one pauses the tool, deliveries that arrive wait to be
/// timed and sends due are issued late, so the pauses are part of what the latency figures show.
/// </summary>
public sealed class CpuWindow
{
    private readonly Dictionary<int, double> _start;
    private readonly long _deliveredAtStart;
    private readonly GeneratorGc _gcAtStart;

    private CpuWindow(Dictionary<int, double> start, long deliveredAtStart, GeneratorGc gcAtStart)
    {
        _start = start;
        _deliveredAtStart = deliveredAtStart;
        _gcAtStart = gcAtStart;
    }

    /// <summary>CPU seconds per watched process over the window, in the order of the watched pids.</summary>
    public IReadOnlyList<(int Pid, double Seconds)> Seconds { get; private init; } = [];

    /// <summary>Deliveries to the run's clients inside the window.</summary>
    public long Delivered { get; private init; }

    /// <summary>The load tool's own collections and the time they paused it, inside the window.</summary>
    public GeneratorGc Gc { get; private init; } = new(0, 0, 0, 0);

    public static CpuWindow Open(LoadContext context) =>
        new(context.Options.WatchPids.ToDictionary(p => p, ProcessStats.CpuSeconds), context.Stats.Delivered, GeneratorGc.Now());

    public CpuWindow Close(LoadContext context) => new(_start, _deliveredAtStart, _gcAtStart)
    {
        Seconds = [.. context.Options.WatchPids
            .Select(p => (Pid: p, Now: ProcessStats.CpuSeconds(p)))
            .Where(c => c.Now > 0)
            .Select(c => (c.Pid, c.Now - _start[c.Pid]))],
        Delivered = context.Stats.Delivered - _deliveredAtStart,
        Gc = GeneratorGc.Now() - _gcAtStart,
    };
}

/// <summary>Garbage collections of the load tool's process by generation, and the total time they paused it.</summary>
public sealed record GeneratorGc(double PauseMs, int Gen0, int Gen1, int Gen2)
{
    /// <summary>The reports' row name for <see cref="Describe"/>.</summary>
    public const string Label = "load tool GC pauses (collections gen0 / gen1 / gen2)";

    public static GeneratorGc Now() =>
        new(GC.GetTotalPauseDuration().TotalMilliseconds, GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));

    // CollectionCount(n) counts the collections of generation n or older: each generation's own count is the difference.
    public static GeneratorGc operator -(GeneratorGc end, GeneratorGc start)
    {
        var (gen0, gen1, gen2) = (end.Gen0 - start.Gen0, end.Gen1 - start.Gen1, end.Gen2 - start.Gen2);
        return new GeneratorGc(end.PauseMs - start.PauseMs, gen0 - gen1, gen1 - gen2, gen2);
    }

    /// <summary>The pause and the collections as the console and HTML reports show them.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture, $"{PauseMs:0.0} ms ({Gen0} / {Gen1} / {Gen2})");
}
