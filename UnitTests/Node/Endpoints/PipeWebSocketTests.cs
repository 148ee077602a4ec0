using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using ChatNode.Endpoints;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ChatNode.UnitTests.Node.Endpoints;

/// <summary>
/// The node's own RFC 6455 framing on pipes: against .NET's client WebSocket for what works, and byte by byte for what
/// a client must not send.
/// </summary>
[TestFixture]
[Fast]
public sealed class PipeWebSocketTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private Pipe _toServer = null!;
    private Pipe _toClient = null!;
    private PipeWebSocket _server = null!;
    private CancellationTokenSource _timeout = null!;

    [SetUp]
    public void SetUp()
    {
        (_toServer, _toClient) = (new Pipe(), new Pipe());
        _server = new PipeWebSocket(new DuplexPipe(_toServer.Reader, _toClient.Writer), "chat.v1+proto", _clock);
        _timeout = new CancellationTokenSource(Timeout);
    }

    [TearDown]
    public void TearDown()
    {
        _server.Dispose();
        _timeout.Dispose();
    }

    [Test]
    public async Task Messages_of_every_length_class_and_fragmented_ones_cross_both_ways_with_a_managed_client()
    {
        using var client = ManagedClient();
        var sizes = new[] { 0, 1, 125, 126, 300, 65535, 65536, 70000 };
        foreach (var size in sizes)
        {
            var sent = Payload(size, seed: size);
            // Past the pipes' 64 KiB a writer waits for its reader: send and receive at once.
            var sending = client.SendAsync(sent, WebSocketMessageType.Binary, true, _timeout.Token);
            var (received, type) = await ReceiveMessageAsync(_server, pieceSize: 512);
            await sending;
            Assert.That(received, Is.EqualTo(sent), $"{size} bytes, client to node");
            Assert.That(type, Is.EqualTo(WebSocketMessageType.Binary));

            sending = _server.SendAsync(sent, WebSocketMessageType.Binary, true, _timeout.Token);
            Assert.That((await ReceiveMessageAsync(client, pieceSize: 4096)).Bytes, Is.EqualTo(sent), $"{size} bytes, node to client");
            await sending;
        }

        // One text message in three frames, the second empty; each frame is masked with its own key.
        var parts = new[] { "{\"a\":", "", "1}" };
        for (var i = 0; i < parts.Length; i++)
        {
            await client.SendAsync(Encoding.UTF8.GetBytes(parts[i]), WebSocketMessageType.Text, i == parts.Length - 1, _timeout.Token);
        }

        var (text, textType) = await ReceiveMessageAsync(_server, pieceSize: 3);
        Assert.That(Encoding.UTF8.GetString(text), Is.EqualTo("{\"a\":1}"));
        Assert.That(textType, Is.EqualTo(WebSocketMessageType.Text));
    }

    [Test]
    public async Task A_close_from_the_client_is_reported_and_answered_and_a_close_from_the_node_is_completed_by_the_client()
    {
        using var client = ManagedClient();
        await client.CloseOutputAsync((WebSocketCloseStatus)4000, "bye", _timeout.Token);
        var close = await _server.ReceiveAsync(new byte[16].AsMemory(), _timeout.Token);
        Assert.That(close.MessageType, Is.EqualTo(WebSocketMessageType.Close));
        Assert.That((_server.CloseStatus, _server.CloseStatusDescription, _server.State), Is.EqualTo(((WebSocketCloseStatus)4000, "bye", WebSocketState.CloseReceived)));

        await _server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", _timeout.Token);
        Assert.That(_server.State, Is.EqualTo(WebSocketState.Closed));
        var reply = await client.ReceiveAsync(new byte[16], _timeout.Token);
        Assert.That((reply.MessageType, reply.CloseStatus), Is.EqualTo((WebSocketMessageType.Close, (WebSocketCloseStatus?)WebSocketCloseStatus.NormalClosure)));

        // The other way round, on a second socket pair.
        var toServer = new Pipe();
        var toClient = new Pipe();
        var server = new PipeWebSocket(new DuplexPipe(toServer.Reader, toClient.Writer), "chat.v1+proto", _clock);
        using var second = ManagedClient(toClient.Reader, toServer.Writer);
        await server.CloseOutputAsync((WebSocketCloseStatus)4103, "frames are limited", _timeout.Token);
        Assert.That(server.State, Is.EqualTo(WebSocketState.CloseSent));
        Assert.ThrowsAsync<WebSocketException>(async () => await server.SendAsync(new byte[1], WebSocketMessageType.Binary, true, _timeout.Token), "no data after the close");
        var seen = await second.ReceiveAsync(new byte[64], _timeout.Token);
        Assert.That((seen.CloseStatus, seen.CloseStatusDescription), Is.EqualTo(((WebSocketCloseStatus?)4103, "frames are limited")));
        await second.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", _timeout.Token);
        Assert.That((await server.ReceiveAsync(new byte[16].AsMemory(), _timeout.Token)).MessageType, Is.EqualTo(WebSocketMessageType.Close));
        Assert.That(server.State, Is.EqualTo(WebSocketState.Closed));
    }

    [Test]
    public async Task A_close_reason_longer_than_a_control_frame_is_cut_between_characters()
    {
        using var client = ManagedClient();
        await _server.CloseOutputAsync((WebSocketCloseStatus)4000, new string('é', 100), _timeout.Token);
        var close = await client.ReceiveAsync(new byte[16], _timeout.Token);
        Assert.That(close.CloseStatusDescription, Is.EqualTo(new string('é', 61)), "123 bytes hold 61 two-byte characters");
    }

    [Test]
    public async Task A_ping_is_answered_with_its_payload_and_a_pong_or_any_byte_counts_as_a_sign_of_life()
    {
        var before = _server.LastReceived;
        _clock.Advance(TimeSpan.FromSeconds(5));
        await WriteAsync(Frame(0x89, "hi"u8), Frame(0x8A, "ok"u8), Frame(0x82, [7]));
        var message = await ReceiveMessageAsync(_server, pieceSize: 16);
        Assert.That(message.Bytes, Is.EqualTo(new byte[] { 7 }), "the ping and the pong are not messages");
        Assert.That(_server.LastReceived - before, Is.EqualTo(_clock.TimestampFrequency * 5));

        Assert.That(await ReadOutputAsync(4), Is.EqualTo(new byte[] { 0x8A, 0x02, (byte)'h', (byte)'i' }), "pong, unmasked, same payload");

        await _server.PingAsync(_timeout.Token);
        Assert.That(await ReadOutputAsync(2), Is.EqualTo(new byte[] { 0x89, 0x00 }));
        Assert.That(_server.LastPinged, Is.EqualTo(_clock.GetTimestamp()));
    }

    [TestCase(new byte[] { 0x82, 0x01, 0x07 }, 1002, TestName = "An unmasked frame")]
    [TestCase(new byte[] { 0xC2, 0x81, 1, 2, 3, 4, 0x07 }, 1002, TestName = "A reserved bit without an extension")]
    [TestCase(new byte[] { 0x83, 0x81, 1, 2, 3, 4, 0x07 }, 1002, TestName = "An unknown opcode")]
    [TestCase(new byte[] { 0x09, 0x80, 1, 2, 3, 4 }, 1002, TestName = "A fragmented ping")]
    [TestCase(new byte[] { 0x80, 0x81, 1, 2, 3, 4, 0x07 }, 1002, TestName = "A continuation outside a message")]
    [TestCase(new byte[] { 0x02, 0x81, 1, 2, 3, 4, 0x07, 0x82, 0x81, 1, 2, 3, 4, 0x07 }, 1002, TestName = "A new message inside a fragmented one")]
    [TestCase(new byte[] { 0x88, 0x81, 1, 2, 3, 4, 0x03 }, 1002, TestName = "A close with a one-byte payload")]
    [TestCase(new byte[] { 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xED }, 1002, TestName = "A close with code 1005")]
    [TestCase(new byte[] { 0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 }, 1002, TestName = "A payload length over 2^63")]
    [TestCase(new byte[] { 0x81, 0x82, 0, 0, 0, 0, 0xC3, 0x28 }, 1007, TestName = "A text message that is not UTF-8")]
    [TestCase(new byte[] { 0x81, 0x81, 0, 0, 0, 0, 0xE2 }, 1007, TestName = "A text message ending inside a character")]
    public async Task Frames_a_client_must_not_send_close_the_connection_with_the_code_RFC_6455_names(byte[] frames, int expectedCode)
    {
        await WriteAsync(frames);
        Assert.ThrowsAsync<WebSocketException>(async () => await ReceiveMessageAsync(_server, pieceSize: 64));
        Assert.That(_server.State, Is.EqualTo(WebSocketState.Aborted));

        var header = await ReadOutputAsync(4);
        Assert.That(header[0], Is.EqualTo(0x88), "a close frame");
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2)), Is.EqualTo(expectedCode));
    }

    [Test]
    public async Task Characters_split_across_frames_and_receive_buffers_are_valid_UTF_8()
    {
        var text = Encoding.UTF8.GetBytes("é€😀a");
        var frames = new List<byte[]>();
        for (var i = 0; i < text.Length; i++)
        {
            var opcode = (byte)((i == 0 ? 0x01 : 0x00) | (i == text.Length - 1 ? 0x80 : 0x00));
            frames.Add(Frame(opcode, text.AsSpan(i, 1)));
        }

        await WriteAsync([.. frames]);
        var (received, type) = await ReceiveMessageAsync(_server, pieceSize: 1);
        Assert.That(Encoding.UTF8.GetString(received), Is.EqualTo("é€😀a"));
        Assert.That(type, Is.EqualTo(WebSocketMessageType.Text));
    }

    [Test]
    public async Task A_client_gone_without_a_close_frame_ends_the_receive_with_an_error()
    {
        await WriteAsync([0x82, 0x85, 1, 2]);
        await _toServer.Writer.CompleteAsync();
        var ex = Assert.ThrowsAsync<WebSocketException>(async () => await _server.ReceiveAsync(new byte[16].AsMemory(), _timeout.Token));
        Assert.That(ex!.WebSocketErrorCode, Is.EqualTo(WebSocketError.ConnectionClosedPrematurely));
    }

    [Test]
    public void Unmasking_in_pieces_at_any_offset_matches_the_byte_by_byte_definition()
    {
        var random = new Random(12);
        for (var round = 0; round < 200; round++)
        {
            var data = Payload(random.Next(0, 70), seed: round);
            var mask = (uint)random.Next();
            var expected = data.Select((b, i) => (byte)(b ^ (byte)(mask >> (8 * (i % 4))))).ToArray();
            var split = random.Next(0, data.Length + 1);
            var offset = PipeWebSocket.Unmask(data.AsSpan(0, split), mask, 0);
            PipeWebSocket.Unmask(data.AsSpan(split), mask, offset);
            Assert.That(data, Is.EqualTo(expected), $"round {round}, split at {split}");
        }
    }

    private static byte[] Payload(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    // A client frame: the given first byte, masked with a fixed key.
    private static byte[] Frame(byte first, ReadOnlySpan<byte> payload)
    {
        byte[] key = [0x11, 0x22, 0x33, 0x44];
        var frame = new byte[6 + payload.Length];
        (frame[0], frame[1]) = (first, (byte)(0x80 | payload.Length));
        key.CopyTo(frame, 2);
        for (var i = 0; i < payload.Length; i++)
        {
            frame[6 + i] = (byte)(payload[i] ^ key[i % 4]);
        }

        return frame;
    }

    private async Task<(byte[] Bytes, WebSocketMessageType Type)> ReceiveMessageAsync(WebSocket socket, int pieceSize)
    {
        var message = new List<byte>();
        var piece = new byte[pieceSize];
        while (true)
        {
            var result = await socket.ReceiveAsync(piece.AsMemory(), _timeout.Token);
            message.AddRange(piece.AsSpan(0, result.Count).ToArray());
            if (result.EndOfMessage)
            {
                return ([.. message], result.MessageType);
            }
        }
    }

    private async Task WriteAsync(params byte[][] frames)
    {
        foreach (var frame in frames)
        {
            await _toServer.Writer.WriteAsync(frame, _timeout.Token);
        }
    }

    private async Task<byte[]> ReadOutputAsync(int count)
    {
        var read = await _toClient.Reader.ReadAtLeastAsync(count, _timeout.Token);
        var bytes = System.Buffers.BuffersExtensions.ToArray(read.Buffer.Slice(0, count));
        _toClient.Reader.AdvanceTo(read.Buffer.GetPosition(count));
        return bytes;
    }

    private WebSocket ManagedClient() => ManagedClient(_toClient.Reader, _toServer.Writer);

    private static WebSocket ManagedClient(PipeReader input, PipeWriter output) =>
        WebSocket.CreateFromStream(new DuplexStream(input.AsStream(), output.AsStream()), new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = System.Threading.Timeout.InfiniteTimeSpan });

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    // One stream reading from one pipe and writing into another, as a socket would.
    private sealed class DuplexStream(Stream input, Stream output) : Stream
    {
        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => input.ReadAsync(buffer, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => output.WriteAsync(buffer, cancellationToken);

        public override void Flush() => output.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
