namespace ChatNode.LoadTests.Engine;

/// <summary>What a run looks like at one moment: the runner takes one every second.</summary>
/// <param name="Phase">setup, warmup, load, drain (waiting for the last deliveries), or done.</param>
/// <param name="Remaining">Time left in the phase when it has a set length (warm-up, load); otherwise null.</param>
public sealed record ProgressSnapshot(
    TimeSpan Elapsed,
    string Phase,
    TimeSpan? Remaining,
    long Sent,
    long InFlight,
    long Failed,
    long Delivered,
    double DeliveredPerSecond,
    double P50Ms,
    double P99Ms,
    long Connected,
    string? Note = null)
{
    /// <summary>The snapshot as one progress line (logs, tests, redirected output).</summary>
    public string ToLine() =>
        $"  {Elapsed.TotalSeconds,5:0}s {Phase,-6} sent {Sent,9:N0} in flight {InFlight,6:N0} errors {Failed,5:N0} delivered {Delivered,9:N0} " +
        $"({DeliveredPerSecond,8:N0}/s) connected {Connected,6:N0} p50 {P50Ms,6:0.0} p99 {P99Ms,7:0.0} ms" + (Remaining is { } left ? $" eta {left.TotalSeconds:0}s" : "");
}
