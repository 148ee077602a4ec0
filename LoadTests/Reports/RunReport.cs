using System.Text.Json;
using System.Text.Json.Serialization;
using ChatNode.LoadTests.Engine;
using HdrHistogram;

namespace ChatNode.LoadTests.Reports;

public sealed record LatencySummary(long Count, double P50, double P90, double P99, double P999, double Max)
{
    public static LatencySummary Of(HistogramBase histogram) => histogram.TotalCount == 0
        ? new LatencySummary(0, 0, 0, 0, 0, 0)
        : new LatencySummary(
            histogram.TotalCount,
            RunStats.Milliseconds(histogram.GetValueAtPercentile(50)),
            RunStats.Milliseconds(histogram.GetValueAtPercentile(90)),
            RunStats.Milliseconds(histogram.GetValueAtPercentile(99)),
            RunStats.Milliseconds(histogram.GetValueAtPercentile(99.9)),
            RunStats.Milliseconds(histogram.GetMaxValue()));
}

public sealed record StepReport(int Second, long Acked, long Delivered, long Failed, double P50, double P99);

public sealed record CpuReport(int Pid, string Name, double Seconds, double MicrosecondsPerDelivery);

/// <summary>
/// One fault the soak injected: what and where (<see cref="Target"/>, a node id, or empty for a service), when (seconds
/// into the run, as the steps count) and how long the injection took; the clients it cut off (<see cref="Affected"/>),
/// how many of them were served again and how long they waited (disconnect to welcome, ms), how many moved to another
/// node and at what rate, and the p99 send-to-delivery latency of the other clients meanwhile. <see cref="Error"/> is
/// set when the fault could not be injected.
/// </summary>
public sealed record FaultReport(
    string Kind,
    string Target,
    double AtSecond,
    double Seconds,
    int Affected,
    int ServedAgain,
    LatencySummary ServedAgainMs,
    int Moved,
    double MovesPerSecond,
    int MaxRedirects,
    double OthersP99Ms,
    string? Error);

/// <summary>The machine-readable result of one run (report.json); two of them can be compared.</summary>
public sealed record RunReport(
    string Scenario,
    string Url,
    DateTimeOffset StartedAt,
    double Seconds,
    string Load,
    long Sent,
    long Acked,
    long Failed,
    long Delivered,
    long ExpectedDeliveries,
    long Lost,
    long Duplicated,
    double DeliveredPerSecond,
    double AckedPerSecond,
    LatencySummary AckLatencyMs,
    LatencySummary DeliveryLatencyMs,
    LatencySummary ConnectLatencyMs,
    long Connected,
    long ConnectFailed,
    IReadOnlyList<StepReport> Steps,
    IReadOnlyList<CpuReport> Cpu,
    IReadOnlyDictionary<string, double> Extra,
    IReadOnlyList<string> LostSample,
    IReadOnlyList<FaultReport>? Faults = null,
    long Pending = 0,
    long FailedButDelivered = 0,
    GeneratorGc? GeneratorGc = null)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static RunReport FromJson(string json) => JsonSerializer.Deserialize<RunReport>(json, Json) ?? throw new InvalidDataException("not a run report");

    public static RunReport Build(
        LoadContext context, string scenario, DateTimeOffset startedAt, double seconds, IReadOnlyDictionary<string, double> extra, IReadOnlyList<CpuReport> cpu, IReadOnlyList<FaultReport> faults,
        GeneratorGc? generatorGc = null)
    {
        var stats = context.Stats;
        var options = context.Options;
        var lost = stats.Completeness.Lost();
        var duplicated = stats.Completeness.Duplicated();
        var load = options.Rate > 0
            ? $"open loop {options.Rate}/s" + (options.Ramp > TimeSpan.Zero ? $", ramp {options.Ramp.TotalSeconds:0}s" : "")
            : $"closed loop, concurrency {options.Concurrency}";
        var measured = Math.Max(0.001, seconds);
        return new RunReport(
            scenario,
            options.Url.ToString(),
            startedAt,
            seconds,
            load,
            stats.Sent,
            stats.Acked,
            stats.Failed,
            stats.Delivered,
            stats.Completeness.ExpectedDeliveries,
            lost.Count,
            duplicated.Count,
            stats.DeliveryLatency.TotalCount / measured,
            stats.AckLatency.TotalCount / measured,
            LatencySummary.Of(stats.AckLatency),
            LatencySummary.Of(stats.DeliveryLatency),
            LatencySummary.Of(stats.ConnectLatency),
            stats.Connected,
            stats.ConnectFailed,
            [.. stats.Steps.Select(s => new StepReport(
                s.Second,
                s.AckedCount,
                s.DeliveredCount,
                s.FailedCount,
                s.Latency.TotalCount > 0 ? RunStats.Milliseconds(s.Latency.GetValueAtPercentile(50)) : 0,
                s.Latency.TotalCount > 0 ? RunStats.Milliseconds(s.Latency.GetValueAtPercentile(99)) : 0))],
            cpu,
            extra,
            [.. lost.Take(50).Select(l => $"{l.MessageId} -> {l.Recipient}").Concat(duplicated.Take(50).Select(d => $"{d.MessageId} -> {d.Recipient} x{d.Times}"))
                .Concat(stats.Completeness.FailedButDelivered().Take(50).Select(f => $"send {f.ClientMessageId} reported failed, delivered to {f.Recipient}"))],
            faults,
            context.PendingSends,
            stats.Completeness.FailedButDelivered().Count,
            generatorGc);
    }
}
