using ChatNode.LoadTests.Engine;
using Spectre.Console;

namespace ChatNode.LoadTests.Reports;

/// <summary>
/// Shows a run's progress: on a terminal, a live table (phase and ETA, sent, in flight, errors, delivered and the rate,
/// delivery latency p50 and p99, connections) redrawn every second; otherwise (output redirected, CI) one line a second.
/// </summary>
public static class LiveProgress
{
    public static bool IsInteractive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    /// <summary>Runs <paramref name="run"/>, showing each snapshot it reports.</summary>
    public static async Task<T> ShowAsync<T>(string title, Func<Action<ProgressSnapshot>, Task<T>> run)
    {
        if (!IsInteractive)
        {
            return await run(snapshot =>
            {
                if (snapshot.Note is { } note)
                {
                    Console.WriteLine(note);
                }

                Console.WriteLine(snapshot.ToLine());
            });
        }

        var table = new Table().Title(Markup.Escape(title)).AddColumns("phase", "eta", "sent", "in flight", "errors", "delivered", "rate/s", "p50 ms", "p99 ms", "connected");
        table.AddRow("setup", "", "", "", "", "", "", "", "", "");
        var notes = new List<string>();
        var result = default(T)!;
        await AnsiConsole.Live(table).StartAsync(async live =>
        {
            result = await run(snapshot =>
            {
                lock (table)
                {
                    if (snapshot.Note is { } note)
                    {
                        notes.Add(note);
                        table.Caption(Markup.Escape(string.Join(" | ", notes.TakeLast(3))));
                    }

                    table.UpdateCell(0, 0, snapshot.Phase).UpdateCell(0, 1, snapshot.Remaining is { } left ? $"{left.TotalSeconds:0}s" : "")
                        .UpdateCell(0, 2, $"{snapshot.Sent:N0}").UpdateCell(0, 3, $"{snapshot.InFlight:N0}")
                        .UpdateCell(0, 4, snapshot.Failed == 0 ? "0" : $"[red]{snapshot.Failed:N0}[/]")
                        .UpdateCell(0, 5, $"{snapshot.Delivered:N0}").UpdateCell(0, 6, $"{snapshot.DeliveredPerSecond:N0}")
                        .UpdateCell(0, 7, $"{snapshot.P50Ms:0.0}").UpdateCell(0, 8, $"{snapshot.P99Ms:0.0}")
                        .UpdateCell(0, 9, $"{snapshot.Connected:N0}");
                    live.Refresh();
                }
            });
        });
        return result;
    }
}
