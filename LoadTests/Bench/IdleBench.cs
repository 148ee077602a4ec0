using System.Diagnostics;
using System.Net.WebSockets;
using ChatNode.Auth;
using Microsoft.Extensions.Options;

namespace ChatNode.LoadTests.Bench;

/// <summary>
/// Opens N authenticated connections that then stay idle, and reports the node's resident memory per
/// connection (RSS growth of the first watched pid divided by N). Uses bare WebSockets to keep the load
/// generator itself small.
/// </summary>
public static class IdleBench
{
    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        if (options.WatchPids.Count == 0)
        {
            Console.Error.WriteLine("idle needs --watch-pids NODE_PID to measure the node's memory");
            return 2;
        }

        var node = options.WatchPids[0];
        var tokens = new TokenService(Options.Create(new AuthOptions { Secret = options.Secret }), TimeProvider.System);
        var run = Guid.NewGuid().ToString("N")[..8];
        var rssBefore = ProcessStats.RssBytes(node);
        Console.WriteLine($"idle: opening {options.Connections:N0} connections to {options.Url}; node RSS before {rssBefore / 1048576.0:0.0} MiB");

        var sockets = new List<ClientWebSocket>(options.Connections);
        var clock = Stopwatch.StartNew();
        using var limit = new SemaphoreSlim(64);
        var failures = 0;
        var opened = await Task.WhenAll(Enumerable.Range(0, options.Connections).Select(async i =>
        {
            await limit.WaitAsync(cancellationToken);
            try
            {
                var socket = new ClientWebSocket();
                socket.Options.AddSubProtocol("chat.v1+proto");
                socket.Options.SetRequestHeader("Authorization", "Bearer " + tokens.Mint($"idle{run}-{i}", "bench", TimeSpan.FromHours(2)));
                socket.Options.KeepAliveInterval = TimeSpan.Zero;
                await socket.ConnectAsync(options.Url, cancellationToken);
                return socket;
            }
            catch (WebSocketException)
            {
                Interlocked.Increment(ref failures);
                return null;
            }
            finally
            {
                limit.Release();
            }
        }));
        sockets.AddRange(opened.Where(s => s is not null)!);
        Console.WriteLine($"opened {sockets.Count:N0} ({failures} failed) in {clock.Elapsed.TotalSeconds:0.0}s");

        // Let the node finish replays and the GC settle before reading memory.
        await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
        var rssAfter = ProcessStats.RssBytes(node);
        var perConnection = (rssAfter - rssBefore) / (double)Math.Max(1, sockets.Count);
        Console.WriteLine($"node RSS after {rssAfter / 1048576.0:0.0} MiB: {perConnection / 1024:0.00} KiB per idle connection");

        foreach (var socket in sockets)
        {
            socket.Abort();
            socket.Dispose();
        }

        return failures > 0 ? 1 : 0;
    }
}
