using System.Globalization;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Node.Endpoints;

/// <summary>
/// The node's own WebSocket handshake on the client listener (<c>Node:RawWebSocket</c>): a connection whose first
/// request is <c>GET /ws</c> is served without the HTTP pipeline, answers exactly as the HTTP route does, and leaves
/// every other request (and a later upgrade on the same connection) to HTTP.
/// </summary>
[TestFixture]
[Fast]
public sealed class RawUpgradeTests
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    [TestCase(true)]
    [TestCase(false)]
    public async Task A_first_request_upgrade_bypasses_the_http_pipeline_only_when_raw(bool raw)
    {
        var seen = new PipelineCounter();
        await using var node = await StartAsync(raw, seen);
        await using var socket = await RawSocket.ConnectAsync(node.WsUrl, node.Token(TestEnvironment.NewId("raw"), "phone"));
        await socket.SendAsync(new ChatNode.Protocol.V1.ClientFrame { RequestId = 1, Ping = new() });
        Assert.That((await socket.ResultAsync(1)).Pong, Is.Not.Null, "the upgraded connection serves requests");
        Assert.That(seen.WsRequests, Is.EqualTo(raw ? 0 : 1), "upgrades seen by the HTTP pipeline");
    }

    [Test]
    public async Task An_upgrade_after_another_request_on_the_connection_goes_through_the_http_route()
    {
        var seen = new PipelineCounter();
        await using var node = await StartAsync(raw: true, seen);
        using var tcp = await ConnectTcpAsync(node);
        var stream = tcp.GetStream();

        await WriteAsync(stream, "GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n");
        Assert.That((await ReadResponseAsync(stream)).Status, Is.EqualTo(200));

        await WriteAsync(stream, UpgradeHead(node.Token(TestEnvironment.NewId("raw"), "phone")));
        var upgrade = await ReadResponseAsync(stream);
        Assert.That(upgrade.Status, Is.EqualTo(101));
        Assert.That(upgrade.Headers["sec-websocket-accept"], Is.EqualTo(ExpectedAccept(Key)));
        Assert.That(seen.WsRequests, Is.EqualTo(1), "a second request on a connection is HTTP's");
        using var socket = WebSocket.CreateFromStream(stream, isServer: false, "chat.v1+json", Timeout.InfiniteTimeSpan);
        Assert.That(await ReceiveTextAsync(socket), Does.Contain("\"welcome\""));
    }

    [Test]
    public async Task The_handshake_answers_like_the_http_route_and_accepts_a_frame_sent_with_the_head()
    {
        await using var node = await StartAsync(raw: true, new PipelineCounter());
        using var tcp = await ConnectTcpAsync(node);
        var stream = tcp.GetStream();

        // A client may send its first frame in the same packet as the request head: it must not be lost.
        var head = Encoding.ASCII.GetBytes(UpgradeHead(node.Token(TestEnvironment.NewId("raw"), "web")));
        await stream.WriteAsync(head.Concat(MaskedTextFrame("""{"requestId":"7","ping":{}}""")).ToArray());
        var upgrade = await ReadResponseAsync(stream);
        Assert.That(upgrade.Status, Is.EqualTo(101));
        Assert.That(upgrade.Headers["sec-websocket-accept"], Is.EqualTo(ExpectedAccept(Key)), "RFC 6455 accept key");
        Assert.That(upgrade.Headers["sec-websocket-protocol"], Is.EqualTo("chat.v1+json"));
        Assert.That(upgrade.Headers["upgrade"], Is.EqualTo("websocket").IgnoreCase);

        using var socket = WebSocket.CreateFromStream(stream, isServer: false, "chat.v1+json", Timeout.InfiniteTimeSpan);
        var frames = new List<string>();
        await Poll.UntilAsync(async () =>
        {
            frames.Add(await ReceiveTextAsync(socket));
            return frames.Any(f => f.Contains("\"pong\"", StringComparison.Ordinal));
        }, "the pong of the ping sent with the head");
        Assert.That(frames[0], Does.Contain("\"welcome\""));
    }

    [Test]
    public async Task Refusals_are_the_same_with_and_without_the_raw_handshake()
    {
        await using var raw = await StartAsync(raw: true, new PipelineCounter());
        await using var http = await StartAsync(raw: false, new PipelineCounter());
        var token = raw.Token(TestEnvironment.NewId("raw"), "phone");
        var forged = token[..^4] + (token[^4..] == "AAAA" ? "BBBB" : "AAAA");
        (string Case, string Head, int Status, string Error)[] cases =
        [
            ("no upgrade", "GET /ws HTTP/1.1\r\nHost: node\r\n\r\n", 400, "this endpoint only accepts WebSocket upgrades"),
            ("wrong version", UpgradeHead(token).Replace("Version: 13", "Version: 8", StringComparison.Ordinal), 400, "this endpoint only accepts WebSocket upgrades"),
            ("bad key", UpgradeHead(token).Replace(Key, "short", StringComparison.Ordinal), 400, "this endpoint only accepts WebSocket upgrades"),
            ("no token", UpgradeHead(null), 401, "missing token"),
            ("forged token", UpgradeHead(forged), 401, string.Empty),
            ("no subprotocol", UpgradeHead(token, subprotocol: null), 400, "request the subprotocol"),
        ];
        foreach (var (name, head, status, error) in cases)
        {
            var answers = new List<(int Status, string Body)>();
            foreach (var node in new[] { raw, http })
            {
                using var tcp = await ConnectTcpAsync(node);
                await WriteAsync(tcp.GetStream(), head);
                var response = await ReadResponseAsync(tcp.GetStream());
                answers.Add((response.Status, response.Body));
                Assert.That(response.Status, Is.EqualTo(status), name);
                Assert.That(response.Body, Does.StartWith("{\"error\":\"" + error), name);
                Assert.That(response.Headers["content-type"], Does.StartWith("application/json"), name);
            }

            Assert.That(answers[0], Is.EqualTo(answers[1]), $"{name}: raw and HTTP answers");
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task A_full_node_refuses_upgrades_with_503_until_a_connection_ends(bool raw)
    {
        await using var node = await StartAsync(raw, new PipelineCounter(), settings: new() { ["Node:MaxConnections"] = "2" });
        var first = await RawSocket.ConnectAsync(node.WsUrl, node.Token(TestEnvironment.NewId("full"), "phone"));
        await using var second = await RawSocket.ConnectAsync(node.WsUrl, node.Token(TestEnvironment.NewId("full"), "phone"));

        var third = node.Token(TestEnvironment.NewId("full"), "phone");
        using (var tcp = await ConnectTcpAsync(node))
        {
            await WriteAsync(tcp.GetStream(), UpgradeHead(third));
            var refused = await ReadResponseAsync(tcp.GetStream());
            Assert.That(refused.Status, Is.EqualTo(503));
            Assert.That(refused.Headers["retry-after"], Is.EqualTo("5"));
            Assert.That(refused.Body, Does.StartWith("{\"error\":\"node full"));
        }

        await first.DisposeAsync();
        await Poll.UntilAsync(async () =>
        {
            using var tcp = await ConnectTcpAsync(node);
            await WriteAsync(tcp.GetStream(), UpgradeHead(third));
            return (await ReadResponseAsync(tcp.GetStream())).Status == 101;
        }, "a connect once the first connection ended");
    }

    [Test]
    public async Task An_oversize_head_gets_431_and_an_unfinished_head_is_dropped_after_the_header_timeout()
    {
        await using var node = await StartAsync(raw: true, new PipelineCounter(), kestrel => kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(1));
        using (var tcp = await ConnectTcpAsync(node))
        {
            await WriteAsync(tcp.GetStream(), "GET /ws HTTP/1.1\r\nHost: node\r\nX-Padding: " + new string('a', 64 * 1024) + "\r\n\r\n");
            Assert.That((await ReadResponseAsync(tcp.GetStream())).Status, Is.EqualTo(431));
        }

        using (var slow = await ConnectTcpAsync(node))
        {
            await WriteAsync(slow.GetStream(), "GET /ws HTTP/1.1\r\nHost: node\r\n");
            using var deadline = new CancellationTokenSource(Poll.DefaultTimeout);
            var read = await slow.GetStream().ReadAsync(new byte[16], deadline.Token);
            Assert.That(read, Is.Zero, "the node closed a connection whose head never ended");
        }
    }

    [Test]
    public async Task A_silent_client_is_pinged_then_aborted_while_one_that_answers_pings_stays()
    {
        await using var node = await StartAsync(raw: true, new PipelineCounter(), settings: new Dictionary<string, string?>
        {
            ["Node:KeepAliveInterval"] = "00:00:00.500",
            ["Node:KeepAliveTimeout"] = "00:00:00.500",
        });
        await using var answering = await RawSocket.ConnectAsync(node.WsUrl, node.Token(TestEnvironment.NewId("alive"), "phone"));
        await Poll.UntilAsync(async () => (await answering.ReceiveAsync())?.InboxReplayed is not null, "the answering client's replay to end");
        var receiving = answering.ReceiveAsync(TimeSpan.FromSeconds(60)); // nothing more comes; a pending receive answers pings

        using var tcp = await ConnectTcpAsync(node);
        var stream = tcp.GetStream();
        await WriteAsync(stream, UpgradeHead(node.Token(TestEnvironment.NewId("silent"), "phone")));
        Assert.That((await ReadResponseAsync(stream)).Status, Is.EqualTo(101));
        var opcodes = new List<int>();
        using var deadline = new CancellationTokenSource(Poll.DefaultTimeout);
        try
        {
            // Read frames and answer nothing, until the node ends the connection.
            while (await ReadFrameOpcodeAsync(stream, deadline.Token) is { } opcode)
            {
                opcodes.Add(opcode);
            }
        }
        catch (IOException)
        {
            // An abort may reset the connection instead of closing it.
        }

        Assert.That(deadline.IsCancellationRequested, Is.False, "the node ended the silent connection");
        Assert.That(opcodes, Does.Contain(0x9), "a ping came before the abort");
        Assert.That(opcodes, Does.Not.Contain(0x8), "no close handshake with a dead peer");
        Assert.That(receiving.IsCompleted, Is.False, "the client that answers pings is still connected");
        Assert.That(answering.State, Is.EqualTo(WebSocketState.Open));
    }

    // The opcode of the next server frame (payload skipped), or null at the end of the stream.
    private static async Task<int?> ReadFrameOpcodeAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var header = new byte[2];
        if (await stream.ReadAtLeastAsync(header, 2, throwOnEndOfStream: false, cancellationToken) < 2)
        {
            return null;
        }

        long length = header[1] & 0x7F;
        if (length >= 126)
        {
            var extended = new byte[length == 126 ? 2 : 8];
            await stream.ReadExactlyAsync(extended, cancellationToken);
            length = extended.Aggregate(0L, (sum, b) => (sum << 8) | b);
        }

        await stream.ReadExactlyAsync(new byte[length], cancellationToken);
        return header[0] & 0x0F;
    }

    private static async Task<TestNode> StartAsync(bool raw, PipelineCounter seen, Action<KestrelServerOptions>? kestrel = null, Dictionary<string, string?>? settings = null)
    {
        settings ??= [];
        settings["Node:RawWebSocket"] = raw ? "true" : "false";
        return await TestNode.StartAsync(settings, StoreBackend.Memory, services: s =>
        {
            s.AddSingleton<IStartupFilter>(seen);
            s.Configure(kestrel ?? (_ => { }));
        });
    }

    private static async Task<TcpClient> ConnectTcpAsync(TestNode node)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(node.BaseUrl.Host, node.BaseUrl.Port);
        return tcp;
    }

    private static string UpgradeHead(string? token, string? subprotocol = "chat.v1+json") =>
        "GET /ws" + (token is null ? string.Empty : "?access_token=" + Uri.EscapeDataString(token)) + " HTTP/1.1\r\n"
        + "Host: node\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        + $"Sec-WebSocket-Key: {Key}\r\n"
        + (subprotocol is null ? string.Empty : $"Sec-WebSocket-Protocol: x-other, {subprotocol}\r\n")
        + "\r\n";

#pragma warning disable CA5350 // RFC 6455 defines the accept key with SHA-1.
    private static string ExpectedAccept(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350

    private static Task WriteAsync(NetworkStream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    // One response: the head byte by byte (so nothing after it is consumed), then a Content-Length body.
    private static async Task<(int Status, Dictionary<string, string> Headers, string Body)> ReadResponseAsync(NetworkStream stream)
    {
        using var deadline = new CancellationTokenSource(Poll.DefaultTimeout);
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            Assert.That(await stream.ReadAsync(one, deadline.Token), Is.EqualTo(1), "the response head ended early: " + Encoding.ASCII.GetString(head.ToArray()));
            head.Add(one[0]);
        }

        var lines = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var body = new MemoryStream();
        if (headers.TryGetValue("content-length", out var length))
        {
            var bytes = new byte[int.Parse(length, CultureInfo.InvariantCulture)];
            await stream.ReadExactlyAsync(bytes, deadline.Token);
            body.Write(bytes);
        }
        else if (headers.GetValueOrDefault("transfer-encoding") == "chunked")
        {
            // Chunks: a hex size line, the bytes, CRLF; a zero size ends the body (no trailers are sent here).
            while (await ReadLineAsync(stream, deadline.Token) is var size && int.Parse(size, NumberStyles.HexNumber, CultureInfo.InvariantCulture) is var count and > 0)
            {
                var bytes = new byte[count + 2];
                await stream.ReadExactlyAsync(bytes, deadline.Token);
                body.Write(bytes, 0, count);
            }

            await ReadLineAsync(stream, deadline.Token);
        }

        return (int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture), headers, Encoding.UTF8.GetString(body.ToArray()));
    }

    private static async Task<string> ReadLineAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (!line.ToString().EndsWith("\r\n", StringComparison.Ordinal))
        {
            Assert.That(await stream.ReadAsync(one, cancellationToken), Is.EqualTo(1), "the response ended early");
            line.Append((char)one[0]);
        }

        return line.ToString()[..^2];
    }

    private static async Task<string> ReceiveTextAsync(WebSocket socket)
    {
        using var deadline = new CancellationTokenSource(Poll.DefaultTimeout);
        var buffer = new byte[64 * 1024];
        var count = 0;
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.AsMemory(count), deadline.Token);
            count += result.Count;
        }
        while (!result.EndOfMessage);
        return Encoding.UTF8.GetString(buffer, 0, count);
    }

    // A client-to-server text frame: FIN, opcode 1, masked (RFC 6455 section 5.3).
    private static byte[] MaskedTextFrame(string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        Assert.That(payload, Has.Length.LessThan(126));
        var mask = new byte[] { 0x11, 0x22, 0x33, 0x44 };
        return new byte[] { 0x81, (byte)(0x80 | payload.Length) }.Concat(mask).Concat(payload.Select((b, i) => (byte)(b ^ mask[i % 4]))).ToArray();
    }

    /// <summary>Counts the <c>/ws</c> requests that reach the HTTP pipeline.</summary>
    private sealed class PipelineCounter : IStartupFilter
    {
        private int _wsRequests;

        public int WsRequests => Volatile.Read(ref _wsRequests);

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, inner) =>
            {
                if (context.Request.Path.StartsWithSegments("/ws"))
                {
                    Interlocked.Increment(ref _wsRequests);
                }

                return inner(context);
            });
            next(app);
        };
    }
}
