using System.Diagnostics;
using System.Net.WebSockets;
using ChatNode.LoadTests.Engine;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;

namespace ChatNode.LoadTests.Scenarios;

/// <summary>
/// Opens N authenticated connections at a rate and holds them for the duration: connect latency, failures, and the
/// resident memory per connection of the watched processes together (the nodes on this machine). Bare WebSockets keep the
/// load generator small; a process may hold at most ~19,000 sockets here, so split larger runs across processes.
/// </summary>
public sealed class ConnectScenario : Scenario
{
    public override string Name => "connect";

    public override bool OwnsLoad => true;

    public override async Task RunAsync(LoadContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var rssBefore = options.WatchPids.Sum(ProcessStats.RssBytes);
        var sockets = new List<ClientWebSocket>(options.Connections);
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

                opening.Add(OpenAsync(context, context.User("c", i), sockets, cancellationToken));
            }

            await Task.WhenAll(opening);
            await Task.Delay(options.Duration, cancellationToken);
            var rssAfter = options.WatchPids.Sum(ProcessStats.RssBytes);
            Extra["connections"] = sockets.Count;
            if (options.WatchPids.Count > 0 && sockets.Count > 0)
            {
                Extra["watched_rss_mib"] = rssAfter / 1048576.0;
                Extra["kib_per_connection"] = (rssAfter - rssBefore) / 1024.0 / sockets.Count;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            lock (sockets)
            {
                foreach (var socket in sockets)
                {
                    socket.Abort();
                    socket.Dispose();
                }
            }
        }
    }

    // Opens one connection, following a redirect to the user's owner once, and keeps it when the node welcomed it.
    private static async Task OpenAsync(LoadContext context, string user, List<ClientWebSocket> sockets, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var url = context.Options.Url;
        for (var hop = 0; hop < 3; hop++)
        {
            var socket = new ClientWebSocket();
            socket.Options.AddSubProtocol(ChatProtocol.ProtoSubprotocol);
            socket.Options.SetRequestHeader("Authorization", "Bearer " + context.Token(user, "idle"));
            socket.Options.KeepAliveInterval = TimeSpan.Zero;
            try
            {
                await socket.ConnectAsync(url, cancellationToken);
                var buffer = new byte[4096];
                var first = await socket.ReceiveAsync(buffer, cancellationToken);
                var frame = first.MessageType == WebSocketMessageType.Binary ? ServerFrame.Parser.ParseFrom(buffer, 0, first.Count) : null;
                if (frame?.BodyCase == ServerFrame.BodyOneofCase.Redirect)
                {
                    url = new Uri(frame.Redirect.Url);
                    socket.Abort();
                    socket.Dispose();
                    continue;
                }

                if (frame?.BodyCase != ServerFrame.BodyOneofCase.Welcome)
                {
                    throw new WebSocketException("no welcome");
                }

                context.Stats.RecordConnect(start, ok: true);
                lock (sockets)
                {
                    sockets.Add(socket);
                }

                return;
            }
            catch (WebSocketException)
            {
                socket.Dispose();
                break;
            }
        }

        context.Stats.RecordConnect(start, ok: false);
    }
}
