using System.Diagnostics;
using ChatNode.Client;
using ChatNode.LoadTests.Engine;

namespace ChatNode.LoadTests.Scenarios;

/// <summary>
/// Opens N authenticated connections at a rate and holds them for the duration: connect latency, failures, and the
/// resident memory per connection of the watched processes together (the nodes on this machine). Each connection is a
/// reference client that behaves like an idle app: it answers keep-alive pings and close frames, follows redirects,
/// and reconnects with the client's backoff, so a drain or a crash of a node holding them shows the reconnects it
/// causes. A process may hold at most ~19,000 sockets here, so split larger runs across processes.
/// </summary>
public sealed class ConnectScenario : Scenario
{
    private readonly List<ChatClient> _clients = [];

    public override string Name => "connect";

    public override bool OwnsLoad => true;

    public override async Task RunAsync(LoadContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var rssBefore = options.WatchPids.Sum(ProcessStats.RssBytes);
        var opening = new List<Task>();
        var interval = TimeSpan.FromSeconds(1.0 / options.ConnectRate);
        var next = Stopwatch.GetTimestamp();
        try
        {
            for (var i = 0; i < options.Connections && !cancellationToken.IsCancellationRequested; i++)
            {
                next += (long)(interval.TotalSeconds * Stopwatch.Frequency);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait, cancellationToken);
                }

                opening.Add(OpenAsync(context, context.User("c", i), cancellationToken));
            }

            await Task.WhenAll(opening);
            await Task.Delay(options.Duration, cancellationToken);
            var rssAfter = options.WatchPids.Sum(ProcessStats.RssBytes);
            Extra["connections"] = _clients.Count;
            if (options.WatchPids.Count > 0 && _clients.Count > 0)
            {
                Extra["watched_rss_mib"] = rssAfter / 1048576.0;
                Extra["kib_per_connection"] = (rssAfter - rssBefore) / 1024.0 / _clients.Count;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    // The load context owns the clients (it disposes them); failures are counted by it.
    private async Task OpenAsync(LoadContext context, string user, CancellationToken cancellationToken)
    {
        try
        {
            var client = await context.ConnectIdleAsync(user, cancellationToken);
            lock (_clients)
            {
                _clients.Add(client);
            }
        }
        catch (Exception ex) when (ex is ChatConnectionException or OperationCanceledException)
        {
        }
    }
}
