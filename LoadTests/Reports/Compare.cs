using System.Globalization;

namespace ChatNode.LoadTests.Reports;

/// <summary>Side by side: two runs' key figures and the ratio B / A.</summary>
public static class Compare
{
    public static string Render(RunReport a, RunReport b)
    {
        var rows = new (string Name, double A, double B)[]
        {
            ("delivered/s", a.DeliveredPerSecond, b.DeliveredPerSecond),
            ("confirmed/s", a.AckedPerSecond, b.AckedPerSecond),
            ("failed", a.Failed, b.Failed),
            ("lost", a.Lost, b.Lost),
            ("send->SUCCESS p50 ms", a.AckLatencyMs.P50, b.AckLatencyMs.P50),
            ("send->SUCCESS p99 ms", a.AckLatencyMs.P99, b.AckLatencyMs.P99),
            ("send->delivery p50 ms", a.DeliveryLatencyMs.P50, b.DeliveryLatencyMs.P50),
            ("send->delivery p99 ms", a.DeliveryLatencyMs.P99, b.DeliveryLatencyMs.P99),
            ("send->delivery p99.9 ms", a.DeliveryLatencyMs.P999, b.DeliveryLatencyMs.P999),
            ("CPU us per delivery (watched)", a.Cpu.Sum(c => c.MicrosecondsPerDelivery), b.Cpu.Sum(c => c.MicrosecondsPerDelivery)),
        };
        var lines = new List<string>
        {
            $"A: {a.Scenario} {a.Load} {a.StartedAt:u}",
            $"B: {b.Scenario} {b.Load} {b.StartedAt:u}",
            $"{"metric",-30} {"A",12} {"B",12} {"B/A",8}",
        };
        foreach (var (name, av, bv) in rows)
        {
            var ratio = av == 0 ? (bv == 0 ? "1.00" : "inf") : (bv / av).ToString("0.00", CultureInfo.InvariantCulture);
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{name,-30} {av,12:0.##} {bv,12:0.##} {ratio,8}"));
        }

        return string.Join(Environment.NewLine, lines);
    }
}
