using System.CommandLine;
using System.Globalization;
using ChatNode.LoadTests.Engine;
using ChatNode.LoadTests.Reports;
using ChatNode.LoadTests.Scenarios;
using Spectre.Console;

namespace ChatNode.LoadTests;

/// <summary>
/// The load tool (<see cref="LoadCommands"/>): <c>&lt;scenario&gt; [options]</c> runs one scenario against a fleet (or a
/// local one with --local) and writes a console summary, report.json and report.html; <c>compare A B</c> prints the
/// ratios of two runs; <c>suite</c> runs a short set against one local fleet. Exits 1 when anything confirmed was lost
/// or shown twice, 2 on bad arguments.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (Console.IsOutputRedirected)
        {
            // A log file has no width; the summary tables read better wide than wrapped at 80 columns.
            AnsiConsole.Profile.Width = 160;
        }

        var result = LoadCommands.Build(RunOneAsync, SuiteAsync, CompareReports).Parse(args);

        // Ctrl-C cancels the run; a local fleet then needs time to stop its nodes before the process exits.
        var exitCode = await result.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) }).ConfigureAwait(false);
        return result.Errors.Count > 0 ? 2 : exitCode;
    }

    public static Task<int> RunOneAsync(LoadOptions options, CancellationToken cancellationToken) => RunOneAsync(options, null, cancellationToken);

    /// <summary>Runs one scenario (starting and stopping a local fleet with --local) and writes its reports.</summary>
    public static async Task<int> RunOneAsync(LoadOptions options, LocalFleet? shared, CancellationToken cancellationToken)
    {
        using var scenario = Scenario.Create(options.Scenario);
        LocalFleet? local = null;
        if (shared is null && options.LocalNodes > 0)
        {
            local = await LocalFleet.StartAsync(options.LocalNodes, options.NodeSettings, Console.WriteLine);
            shared = local;
        }

        try
        {
            if (shared is not null)
            {
                options.Url = shared.Url;
                options.Seeds = shared.Seeds;
                options.Secret = shared.Secret;
                options.WatchPids = [.. shared.Pids];
            }

            if (options.Secret.Length < 16)
            {
                throw new ArgumentException("the cluster secret (--secret or CHATNODE_SECRET) is needed to mint tokens");
            }

            var report = await LiveProgress.ShowAsync($"{scenario.Name} against {options.Url}", tick => ExecuteAsync(options, scenario, tick, Console.WriteLine, shared, cancellationToken));
            var folder = options.OutputDirectory ?? Path.Combine("build", "load-results", $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{scenario.Name}");
            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, "report.json"), report.ToJson(), CancellationToken.None);
            await File.WriteAllTextAsync(Path.Combine(folder, "report.html"), HtmlReport.Render(report), CancellationToken.None);
            PrintSummary(report);
            Console.WriteLine($"reports: {Path.GetFullPath(Path.Combine(folder, "report.html"))} and report.json");
            return report.Lost > 0 || report.Duplicated > 0 || report.FailedButDelivered > 0 || report.Faults?.Any(f => f.Error is not null) == true ? 1 : 0;
        }
        finally
        {
            if (local is not null)
            {
                await local.DisposeAsync();
            }
        }
    }

    /// <summary>Runs a scenario to its report, handing a progress snapshot to <paramref name="tick"/> every second; used by the console and by the test suite.</summary>
    public static async Task<RunReport> ExecuteAsync(LoadOptions options, Scenario scenario, Action<ProgressSnapshot> tick, Action<string> log, LocalFleet? fleet, CancellationToken cancellationToken)
    {
        await using var context = new LoadContext(options) { Fleet = fleet };
        var started = DateTimeOffset.UtcNow;
        var runner = new LoadRunner(context, scenario, tick);
        await runner.RunAsync(cancellationToken);

        // CPU and deliveries of the measured load only: set-up (connects, chats) and warm-up would inflate the figure.
        var window = runner.Cpu;
        var delivered = Math.Max(1, window?.Delivered ?? 0);
        var cpu = (window?.Seconds ?? [])
            .Select(c => new CpuReport(c.Pid, ProcessStats.Name(c.Pid), c.Seconds, c.Seconds * 1e6 / delivered))
            .ToArray();
        var lost = context.Stats.Completeness.Lost();
        foreach (var (messageId, recipient) in lost.Take(20))
        {
            log($"  LOST: message {messageId} never reached {recipient}");
        }

        return RunReport.Build(context, scenario.Name, started, runner.MeasuredSeconds, scenario.Extra, cpu, scenario.Faults, window?.Gc);
    }

    private static async Task<int> SuiteAsync(int nodes, CancellationToken cancellationToken)
    {
        await using var fleet = await LocalFleet.StartAsync(nodes, [], Console.WriteLine);
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var runs = new (string Scenario, string[] Args)[]
        {
            ("direct", ["--pairs", "500", "--window", "4", "--warmup", "3s", "--duration", "15s"]),
            ("group", ["--groups", "2", "--group-size", "50", "--concurrency", "20", "--warmup", "2s", "--duration", "10s"]),
            ("offline", ["--pairs", "200", "--concurrency", "50", "--warmup", "0s", "--duration", "10s", "--max-messages", "5000"]),
            ("mixed", ["--pairs", "300", "--group-size", "10", "--groups", "5", "--rate", "1000", "--ramp", "3s", "--warmup", "0s", "--duration", "15s"]),
            ("connect", ["--connections", "3000", "--connect-rate", "1000", "--duration", "3s"]),
        };
        var failures = 0;
        foreach (var (scenario, runArgs) in runs)
        {
            var options = LoadOptions.Parse(scenario, [.. runArgs, "--out", Path.Combine("build", "load-results", $"{stamp}-suite", scenario)]);
            failures += await RunOneAsync(options, fleet, cancellationToken) == 0 ? 0 : 1;
        }

        Console.WriteLine($"suite reports: {Path.GetFullPath(Path.Combine("build", "load-results", $"{stamp}-suite"))}/<scenario>/report.html");
        return failures == 0 ? 0 : 1;
    }

    private static int CompareReports(string a, string b)
    {
        Console.WriteLine(Compare.Render(RunReport.FromJson(File.ReadAllText(a)), RunReport.FromJson(File.ReadAllText(b))));
        return 0;
    }

    private static void PrintSummary(RunReport report)
    {
        var table = new Table().Title($"{report.Scenario}: {report.Load}, {report.Seconds:0.0} s measured").AddColumns("metric", "value");
        table.AddRow("sent / confirmed / failed", $"{report.Sent:N0} / {report.Acked:N0} / {report.Failed:N0}");
        table.AddRow("delivered / expected", $"{report.Delivered:N0} / {report.ExpectedDeliveries:N0}");
        table.AddRow("lost / duplicated", report.Lost + report.Duplicated == 0 ? "[green]0 / 0[/]" : $"[red]{report.Lost} / {report.Duplicated}[/]");
        table.AddRow("failed but delivered / still pending", report.FailedButDelivered == 0 ? $"[green]0[/] / {report.Pending}" : $"[red]{report.FailedButDelivered}[/] / {report.Pending}");
        table.AddRow("delivered/s", report.DeliveredPerSecond.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("send->SUCCESS ms p50/p90/p99/p99.9/max", Latency(report.AckLatencyMs));
        table.AddRow("send->delivery ms p50/p90/p99/p99.9/max", Latency(report.DeliveryLatencyMs));
        table.AddRow("connect ms p50/p99 (ok/failed)", $"{report.ConnectLatencyMs.P50:0.0}/{report.ConnectLatencyMs.P99:0.0} ({report.Connected:N0}/{report.ConnectFailed:N0})");
        foreach (var (key, value) in report.Extra)
        {
            table.AddRow(key.Replace('_', ' '), value.ToString("0.##", CultureInfo.InvariantCulture));
        }

        foreach (var cpu in report.Cpu)
        {
            table.AddRow(Markup.Escape($"cpu {cpu.Name}[{cpu.Pid}]"), $"{cpu.Seconds:0.00} s, {cpu.MicrosecondsPerDelivery:0.0} us/delivery");
        }

        if (report.GeneratorGc is { } gc)
        {
            table.AddRow(GeneratorGc.Label, gc.Describe());
        }

        AnsiConsole.Write(table);
        if (report.Faults is { Count: > 0 } faults)
        {
            var faultTable = new Table().Title("faults").AddColumns("at s", "fault", "target", "took s", "cut off", "served again", "waited p50/p99/max ms", "moved", "moves/s", "max redirects", "others p99 ms", "error");
            foreach (var f in faults)
            {
                faultTable.AddRow(
                    $"{f.AtSecond:0}", f.Kind, f.Target, $"{f.Seconds:0.0}", $"{f.Affected}", $"{f.ServedAgain}",
                    string.Create(CultureInfo.InvariantCulture, $"{f.ServedAgainMs.P50:0} / {f.ServedAgainMs.P99:0} / {f.ServedAgainMs.Max:0}"),
                    $"{f.Moved}", $"{f.MovesPerSecond:0.0}", $"{f.MaxRedirects}", $"{f.OthersP99Ms:0.0}", f.Error is null ? "" : "[red]" + Markup.Escape(f.Error) + "[/]");
            }

            AnsiConsole.Write(faultTable);
        }

        static string Latency(LatencySummary l) => string.Create(CultureInfo.InvariantCulture, $"{l.P50:0.0} / {l.P90:0.0} / {l.P99:0.0} / {l.P999:0.0} / {l.Max:0.0}");
    }
}
