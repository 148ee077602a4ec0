using System.Diagnostics;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using ChatNode.Client;
using ChatNode.LoadTests.Engine;
using ChatNode.Protocol;

namespace ChatNode.LoadTests.Scenarios;

/// <summary>
/// What one signed-in attacker costs a node (point --url at one node, --watch-pids at it and its store): for
/// --duration, attacking connections do one of
/// <list type="bullet">
/// <item><c>errors</c>: send 1-byte malformed frames as fast as the socket takes them and never read a reply;</item>
/// <item><c>create-chat</c>: send <c>createChat</c> with about 11,000 distinct short ids in one 64 KB frame, one after the other;</item>
/// <item><c>offline-flood</c>: three clients of one user send 16 KiB messages to a user who never connects, as fast as answered;</item>
/// <item><c>connect-flood</c>: upgrades of distinct clients (2,000 by default), 200 at a time, each held open once
/// upgraded: past the node's <c>Node:MaxConnections</c> they are answered 503 or closed at accept;</item>
/// </list>
/// while a bystander on the same node pings every 100 ms. Reports the watched processes' RSS and CPU over the attack
/// (the first pid: the node; the others: the store), the attack's requests, and the bystander's ping p50/p99.
/// </summary>
public sealed class AbuseScenario : Scenario
{
    private const int TextBytes = 16 * 1024;

    public override string Name => "abuse";

    public override bool OwnsLoad => true;

    public override async Task RunAsync(LoadContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var pids = options.WatchPids;
        var bystander = await context.ConnectAsync(context.User("bystander", 0), "phone", cancellationToken);
        var rssBefore = pids.Select(ProcessStats.RssBytes).ToArray();
        var cpuBefore = pids.Select(ProcessStats.CpuSeconds).ToArray();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(options.Duration);
        long requests = 0;
        var attackers = options.Attackers > 0 ? options.Attackers : options.Attack switch { "create-chat" => 4, "offline-flood" => 3, "connect-flood" => 2000, _ => 1 };
        var attack = options.Attack switch
        {
            "create-chat" => Task.WhenAll(Enumerable.Range(0, attackers).Select(i => CreateChatsAsync(context, i, () => Interlocked.Increment(ref requests), stop.Token))),
            "offline-flood" => FloodOfflineAsync(context, attackers, () => Interlocked.Increment(ref requests), stop.Token),
            "connect-flood" => FloodConnectsAsync(context, attackers, () => Interlocked.Increment(ref requests), stop.Token),
            _ => Task.WhenAll(Enumerable.Range(0, attackers).Select(i => SendErrorsAsync(context, i, () => Interlocked.Increment(ref requests), stop.Token))),
        };

        var pings = new List<double>();
        var peakNodeRss = 0L;
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await bystander.PingAsync(stop.Token);
                pings.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ChatConnectionException or ChatErrorException)
            {
            }

            if (pids.Count > 0)
            {
                peakNodeRss = Math.Max(peakNodeRss, ProcessStats.RssBytes(pids[0]));
            }

            await Task.Delay(100, CancellationToken.None);
        }

        await attack;
        pings.Sort();
        Extra["attack_requests"] = Interlocked.Read(ref requests);
        Extra["bystander_pings"] = pings.Count;
        if (pings.Count > 0)
        {
            Extra["bystander_ping_p50_ms"] = pings[pings.Count / 2];
            Extra["bystander_ping_p99_ms"] = pings[Math.Min(pings.Count - 1, (int)(pings.Count * 0.99))];
        }

        if (pids.Count > 0)
        {
            Extra["node_rss_before_mib"] = rssBefore[0] / 1048576.0;
            Extra["node_rss_peak_mib"] = peakNodeRss / 1048576.0;
            var nodeCpu = ProcessStats.CpuSeconds(pids[0]) - cpuBefore[0];
            Extra["node_cpu_s"] = nodeCpu;
            Extra["node_cpu_s_per_request"] = requests > 0 ? nodeCpu / requests : 0;
        }

        if (pids.Count > 1)
        {
            Extra["store_rss_growth_mib"] = pids.Skip(1).Select((pid, i) => ProcessStats.RssBytes(pid) - rssBefore[i + 1]).Sum() / 1048576.0;
        }
    }

    // A raw WebSocket of the JSON encoding, authenticated for the attacker's client.
    private static async Task<ClientWebSocket> OpenRawAsync(LoadContext context, string user, string client, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(ChatProtocol.JsonSubprotocol);
        socket.Options.SetRequestHeader("Authorization", "Bearer " + context.Token(user, client));
        await socket.ConnectAsync(context.Options.Url, cancellationToken);
        return socket;
    }

    // Never reads while attacking: what the node answers piles up on its side, not the attacker's. ("Sent" counts
    // frames the socket took, most of them into kernel buffers, not frames the node read.) Afterwards it reads what
    // came back, to learn whether and how the node closed the connection.
    private async Task SendErrorsAsync(LoadContext context, int index, Action sent, CancellationToken stop)
    {
        using var socket = await OpenRawAsync(context, context.User("attacker", index), "phone", stop);
        var frame = "x"u8.ToArray();
        try
        {
            while (!stop.IsCancellationRequested && socket.State == WebSocketState.Open)
            {
                await socket.SendAsync(frame, WebSocketMessageType.Text, true, stop);
                sent();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }

        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var buffer = new byte[64 * 1024];
        try
        {
            while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                if ((await socket.ReceiveAsync(buffer.AsMemory(), drain.Token)).MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }

        if (socket.CloseStatus is { } status)
        {
            lock (Extra)
            {
                Extra["attacker_close_code"] = (int)status;
            }
        }
    }

    // createChat requests of ~11,000 distinct ids (all two- and three-character ids that fit in 64 KB), each answered
    // before the next; the answers (an error) are read.
    private static async Task CreateChatsAsync(LoadContext context, int index, Action answered, CancellationToken stop)
    {
        using var socket = await OpenRawAsync(context, context.User("attacker", index), "phone", stop);
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        var ids = alphabet.SelectMany(a => alphabet.Select(b => $"{a}{b}"))
            .Concat(alphabet.SelectMany(a => alphabet.SelectMany(b => alphabet.Select(c => $"{a}{b}{c}"))));
        var json = new StringBuilder("{\"requestId\":\"1\",\"createChat\":{\"participants\":[");
        foreach (var id in ids)
        {
            if (json.Length + id.Length + 8 > 65_000)
            {
                break;
            }

            json.Append('"').Append(id).Append("\",");
        }

        json.Length--;
        json.Append("]}}");
        var frame = Encoding.UTF8.GetBytes(json.ToString());
        var buffer = new byte[64 * 1024];
        try
        {
            while (!stop.IsCancellationRequested && socket.State == WebSocketState.Open)
            {
                await socket.SendAsync(frame, WebSocketMessageType.Text, true, stop);
                ValueWebSocketReceiveResult received;
                do
                {
                    received = await socket.ReceiveAsync(buffer.AsMemory(), stop);
                }
                while (!received.EndOfMessage || Encoding.UTF8.GetString(buffer, 0, received.Count).Contains("\"welcome\"", StringComparison.Ordinal));

                answered();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
    }

    // The load context owns (and disposes) the clients. Three clients of one user, each sending 16 KiB messages one after the other to a chat with a user who never connects.
    private static async Task FloodOfflineAsync(LoadContext context, int clients, Action confirmed, CancellationToken stop)
    {
        var attacker = context.User("attacker", 0);
        var senders = new List<ChatClient>();
        try
        {
            for (var i = 0; i < clients; i++)
            {
                senders.Add(await context.ConnectAsync(attacker, $"device{i}", stop));
            }

            var chat = await senders[0].CreateChatAsync([context.User("offline", 0)], cancellationToken: stop);
            var text = new string('x', TextBytes);
            await Task.WhenAll(senders.Select(async sender =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        await sender.SendMessageAsync(chat.ChatId, text, cancellationToken: stop);
                        confirmed();
                    }
                    catch (Exception ex) when (ex is ChatErrorException or ChatConnectionException or SendOutcomeUnknownException)
                    {
                        // Refused (a quota): the attacker tries again at once.
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    // Upgrades of distinct clients over raw sockets, 200 in flight at a time; each upgraded one is held open until the
    // attack ends. Counts the answers: upgraded (101), refused (503: the node is full), closed before any answer.
    private async Task FloodConnectsAsync(LoadContext context, int sockets, Action attempted, CancellationToken stop)
    {
        var url = context.Options.Url;
        var (upgraded, full, closed) = (0L, 0L, 0L);
        var held = new List<TcpClient>();
        using var slots = new SemaphoreSlim(200);
        var attempts = Enumerable.Range(0, sockets).Select(async i =>
        {
            try
            {
                await slots.WaitAsync(stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var tcp = new TcpClient();
            try
            {
                attempted();
                await tcp.ConnectAsync(url.Host, url.Port, stop);
                var head = $"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + $"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {Convert.ToBase64String(Guid.NewGuid().ToByteArray())}\r\n"
                    + $"Sec-WebSocket-Protocol: {ChatProtocol.JsonSubprotocol}\r\nAuthorization: Bearer {context.Token(context.User("flood", i), "phone")}\r\n\r\n";
                await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes(head), stop);
                var status = await ReadStatusAsync(tcp.GetStream(), stop);
                if (status == 101)
                {
                    Interlocked.Increment(ref upgraded);
                    lock (held)
                    {
                        held.Add(tcp);
                    }

                    tcp = null;
                }
                else if (status == 503)
                {
                    Interlocked.Increment(ref full);
                }
                else
                {
                    Interlocked.Increment(ref closed);
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                Interlocked.Increment(ref closed);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                tcp?.Dispose();
                slots.Release();
            }
        }).ToArray();
        await Task.WhenAll(attempts);
        try
        {
            await Task.Delay(Timeout.Infinite, stop);
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var tcp in held)
        {
            tcp.Dispose();
        }

        lock (Extra)
        {
            Extra["flood_upgraded"] = upgraded;
            Extra["flood_refused_full"] = full;
            Extra["flood_closed"] = closed;
        }
    }

    // The status code of an HTTP response's first line, or 0 if the connection closed before one arrived.
    private static async Task<int> ReadStatusAsync(NetworkStream stream, CancellationToken stop)
    {
        var line = new List<byte>();
        var one = new byte[1];
        while (line.Count < 64 && await stream.ReadAsync(one, stop) == 1)
        {
            if (one[0] == '\n')
            {
                var text = Encoding.ASCII.GetString(line.ToArray());
                return text.Split(' ') is [_, var code, ..] && int.TryParse(code, out var status) ? status : 0;
            }

            line.Add(one[0]);
        }

        return 0;
    }
}
