namespace ChatNode.LoadTests.Engine;

/// <summary>
/// The CPU seconds each watched process used over a stretch of a run, and the deliveries in the same stretch: CPU per
/// delivery is the one divided by the other. A process gone by the end (a node a fault stopped) is left out.
/// </summary>
public sealed class CpuWindow
{
    private readonly Dictionary<int, double> _start;
    private readonly long _deliveredAtStart;

    private CpuWindow(Dictionary<int, double> start, long deliveredAtStart)
    {
        _start = start;
        _deliveredAtStart = deliveredAtStart;
    }

    /// <summary>CPU seconds per watched process over the window, in the order of the watched pids.</summary>
    public IReadOnlyList<(int Pid, double Seconds)> Seconds { get; private init; } = [];

    /// <summary>Deliveries to the run's clients inside the window.</summary>
    public long Delivered { get; private init; }

    public static CpuWindow Open(LoadContext context) =>
        new(context.Options.WatchPids.ToDictionary(p => p, ProcessStats.CpuSeconds), context.Stats.Delivered);

    public CpuWindow Close(LoadContext context) => new(_start, _deliveredAtStart)
    {
        Seconds = [.. context.Options.WatchPids
            .Select(p => (Pid: p, Now: ProcessStats.CpuSeconds(p)))
            .Where(c => c.Now > 0)
            .Select(c => (c.Pid, c.Now - _start[c.Pid]))],
        Delivered = context.Stats.Delivered - _deliveredAtStart,
    };
}
