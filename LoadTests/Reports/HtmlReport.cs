using System.Globalization;
using System.Net;
using System.Text;
using ChatNode.LoadTests.Engine;

namespace ChatNode.LoadTests.Reports;

/// <summary>A self-contained HTML page (inline SVG charts, no scripts, no CDN) for one run.</summary>
public static class HtmlReport
{
    public static string Render(RunReport report)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>chatnode load: ").Append(E(report.Scenario)).Append("</title><style>")
            .Append("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}")
            .Append("th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.bad{color:#b00;font-weight:bold}.ok{color:#070}svg{background:#fcfcfc;border:1px solid #ddd}")
            .Append("</style></head><body>");
        html.Append("<h1>chatnode load test: ").Append(E(report.Scenario)).Append("</h1>");
        html.Append("<p>").Append(E(report.Url)).Append(" &middot; ").Append(E(report.Load)).Append(" &middot; started ")
            .Append(report.StartedAt.ToString("u", CultureInfo.InvariantCulture)).Append(" &middot; ").Append(F(report.Seconds)).Append(" s measured</p>");
        var complete = report.Lost == 0 && report.Duplicated == 0 && report.FailedButDelivered == 0;
        html.Append("<p class=\"").Append(complete ? "ok" : "bad").Append("\">")
            .Append(complete ? "Complete: every confirmed message reached every recipient once." : $"INCOMPLETE: {report.Lost} lost, {report.Duplicated} duplicated deliveries, {report.FailedButDelivered} deliveries of sends reported failed.")
            .Append("</p>");

        html.Append("<h2>Summary</h2><table><tr><th>metric</th><th>value</th></tr>");
        Row(html, "sent / confirmed / failed", $"{report.Sent:N0} / {report.Acked:N0} / {report.Failed:N0}");
        Row(html, "delivered / expected", $"{report.Delivered:N0} / {report.ExpectedDeliveries:N0}");
        Row(html, "delivered per second", F(report.DeliveredPerSecond));
        Row(html, "confirmed per second", F(report.AckedPerSecond));
        Row(html, "connected / failed connects", $"{report.Connected:N0} / {report.ConnectFailed:N0}");
        foreach (var (key, value) in report.Extra)
        {
            Row(html, key.Replace('_', ' '), F(value));
        }

        foreach (var cpu in report.Cpu)
        {
            Row(html, $"CPU {cpu.Name}[{cpu.Pid}]", $"{F(cpu.Seconds)} s, {F(cpu.MicrosecondsPerDelivery)} us per delivery");
        }

        if (report.GeneratorGc is { } gc)
        {
            Row(html, GeneratorGc.Label, gc.Describe());
        }

        html.Append("</table><h2>Latency (ms)</h2><table><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>");
        LatencyRow(html, "send to SUCCESS", report.AckLatencyMs);
        LatencyRow(html, "send to delivery", report.DeliveryLatencyMs);
        LatencyRow(html, "connect", report.ConnectLatencyMs);
        html.Append("</table>");

        html.Append("<h2>Throughput over time (deliveries per second)</h2>");
        html.Append(Chart([("delivered", "#2266cc", report.Steps.Select(s => (double)s.DeliveredCount()).ToArray()), ("failed", "#cc2222", report.Steps.Select(s => (double)s.Failed).ToArray())], "per s"));
        var faults = report.Faults ?? [];
        html.Append("<h2>Send-to-delivery latency over time (ms)").Append(faults.Count > 0 ? ", with the faults injected" : "").Append("</h2>");
        html.Append(Chart([("p50", "#22aa55", report.Steps.Select(s => s.P50).ToArray()), ("p99", "#dd8800", report.Steps.Select(s => s.P99).ToArray())], "ms",
            [.. faults.Select(f => (f.AtSecond, f.Kind + (f.Target.Length > 0 ? " " + f.Target : "")))]));
        if (faults.Count > 0)
        {
            html.Append("<h2>Faults</h2><table><tr><th>at s</th><th>fault</th><th>target</th><th>took s</th><th>clients cut off</th><th>served again</th>")
                .Append("<th>waited p50 / p99 / max ms</th><th>moved</th><th>moves/s</th><th>max redirects</th><th>others p99 ms</th><th>error</th></tr>");
            foreach (var f in faults)
            {
                html.Append("<tr><td>").Append(F(f.AtSecond)).Append("</td><td>").Append(E(f.Kind)).Append("</td><td>").Append(E(f.Target)).Append("</td><td>").Append(F(f.Seconds))
                    .Append("</td><td>").Append(f.Affected).Append("</td><td>").Append(f.ServedAgain).Append("</td><td>")
                    .Append(F(f.ServedAgainMs.P50)).Append(" / ").Append(F(f.ServedAgainMs.P99)).Append(" / ").Append(F(f.ServedAgainMs.Max))
                    .Append("</td><td>").Append(f.Moved).Append("</td><td>").Append(F(f.MovesPerSecond)).Append("</td><td>").Append(f.MaxRedirects).Append("</td><td>").Append(F(f.OthersP99Ms))
                    .Append("</td><td class=\"").Append(f.Error is null ? "ok" : "bad").Append("\">").Append(E(f.Error ?? "")).Append("</td></tr>");
            }

            html.Append("</table>");
        }
        if (report.LostSample.Count > 0)
        {
            html.Append("<h2 class=\"bad\">Lost, duplicated, or failed but delivered (first 50 each)</h2><pre>").Append(E(string.Join('\n', report.LostSample))).Append("</pre>");
        }

        return html.Append("</body></html>").ToString();
    }

    private static long DeliveredCount(this StepReport step) => step.Delivered;

    private static string Chart(IReadOnlyList<(string Name, string Color, double[] Values)> series, string unit, IReadOnlyList<(double Second, string Label)>? markers = null)
    {
        const int width = 800, height = 240, left = 60, bottom = 30, top = 10;
        var count = series.Max(s => s.Values.Length);
        var max = Math.Max(1, series.Max(s => s.Values.DefaultIfEmpty(0).Max()));
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">");
        for (var tick = 0; tick <= 4; tick++)
        {
            var y = top + ((height - top - bottom) * (4 - tick) / 4.0);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{y:0.0}\" x2=\"{width - 10}\" y2=\"{y:0.0}\" stroke=\"#eee\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 5}\" y=\"{y + 4:0.0}\" font-size=\"11\" text-anchor=\"end\">{F(max * tick / 4)}</text>");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"{height - 5}\" font-size=\"11\" text-anchor=\"middle\">seconds ({unit})</text>");
        var legend = left + 10;
        foreach (var (name, color, values) in series)
        {
            if (values.Length > 0)
            {
                var points = string.Join(' ', values.Select((v, i) =>
                    string.Create(CultureInfo.InvariantCulture, $"{left + ((width - left - 10) * (count <= 1 ? 0 : i / (double)(count - 1))):0.0},{top + ((height - top - bottom) * (1 - (v / max))):0.0}")));
                svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{points}\"/>");
            }

            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{legend}\" y=\"{top + 12}\" font-size=\"12\" fill=\"{color}\">{E(name)}</text>");
            legend += 80;
        }

        // Markers (faults) at their second, as vertical lines labelled at the bottom.
        foreach (var (second, label) in markers ?? [])
        {
            var x = left + ((width - left - 10) * (count <= 1 ? 0 : Math.Clamp(second / (count - 1), 0, 1)));
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x:0.0}\" y1=\"{top}\" x2=\"{x:0.0}\" y2=\"{height - bottom}\" stroke=\"#aa33aa\" stroke-dasharray=\"4 3\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + 3:0.0}\" y=\"{height - bottom - 4}\" font-size=\"10\" fill=\"#aa33aa\" transform=\"rotate(-90 {x + 3:0.0} {height - bottom - 4})\">{E(label)}</text>");
        }

        return svg.Append("</svg>").ToString();
    }

    private static void Row(StringBuilder html, string name, string value) =>
        html.Append("<tr><td>").Append(E(name)).Append("</td><td>").Append(E(value)).Append("</td></tr>");

    private static void LatencyRow(StringBuilder html, string name, LatencySummary l) =>
        html.Append("<tr><td>").Append(E(name)).Append("</td><td>").Append(l.Count.ToString("N0", CultureInfo.InvariantCulture))
            .Append("</td><td>").Append(F(l.P50)).Append("</td><td>").Append(F(l.P90)).Append("</td><td>").Append(F(l.P99))
            .Append("</td><td>").Append(F(l.P999)).Append("</td><td>").Append(F(l.Max)).Append("</td></tr>");

    private static string F(double value) => value.ToString(value >= 100 ? "N0" : "0.##", CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
