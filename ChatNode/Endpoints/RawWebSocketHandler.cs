using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using ChatNode.Connections;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ChatNode.Endpoints;

/// <summary>
/// Serves <c>GET /ws</c> straight from the client listener's connections, ahead of the HTTP/1.1 pipeline: it reads
/// the request head, performs the WebSocket handshake itself (RFC 6455 section 4.2) and runs the WebSocket over the
/// connection's pipes. No HTTP request, response or header objects stay alive under the socket for the life of the
/// connection, and Kestrel's per-request timeouts do not tick for it. Every other request (and a <c>/ws</c> upgrade
/// that is not the first request of its connection) goes on to the HTTP pipeline, whose <c>/ws</c> route behaves
/// the same.
/// </summary>
public sealed class RawWebSocketHandler(WebSocketEndpoint endpoint, IOptions<KestrelServerOptions> kestrel, TimeProvider time)
{
    private static readonly byte[] WsRequest = "GET /ws"u8.ToArray();
    private readonly KestrelServerLimits _limits = kestrel.Value.Limits;

    /// <summary>Connection middleware: serves the connection if it starts with a <c>/ws</c> request, else passes it on.</summary>
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var (passOn, upgrade) = await ReadRequestAsync(connection).ConfigureAwait(false);
        if (passOn)
        {
            await next(connection).ConfigureAwait(false);
        }
        else if (upgrade is not null)
        {
            await endpoint.HandleAsync(upgrade).ConfigureAwait(false);
        }
    }

    // Reads a /ws request head; passes on anything else. The head's deadline (a timer) ends with the head: an open
    // connection keeps none.
    private async Task<(bool PassOn, RawUpgradeRequest? Upgrade)> ReadRequestAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        deadline.CancelAfter(_limits.RequestHeadersTimeout);
        ReadResult read;
        try
        {
            read = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return (false, null);
        }

        // Decided on the first bytes only; anything else, including a request line split before its eighth byte,
        // is left unread for the HTTP pipeline, which serves /ws too.
        if (!IsWsRequest(read.Buffer))
        {
            input.AdvanceTo(read.Buffer.Start);
            return (true, null);
        }

        var head = await ReadHeadAsync(connection, read, deadline.Token).ConfigureAwait(false);
        if (head is null)
        {
            return (false, null);
        }

        var upgrade = RawUpgradeRequest.Parse(head, connection, time);
        if (upgrade is null)
        {
            await RawUpgradeRequest.WriteRefusalAsync(connection.Transport.Output, 400, "malformed request head", null, connection.ConnectionClosed).ConfigureAwait(false);
        }

        return (false, upgrade);
    }

    // "GET /ws" followed by a space or a query.
    private static bool IsWsRequest(ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < WsRequest.Length + 1)
        {
            return false;
        }

        Span<byte> first = stackalloc byte[WsRequest.Length + 1];
        buffer.Slice(0, first.Length).CopyTo(first);
        return first[..WsRequest.Length].SequenceEqual(WsRequest) && first[^1] is (byte)' ' or (byte)'?';
    }

    // The request head up to and including its empty line, from the first read on; or null: the connection went away,
    // was too slow, or sent a head too large (answered 431, as Kestrel would).
    private async Task<byte[]?> ReadHeadAsync(ConnectionContext connection, ReadResult read, CancellationToken cancellationToken)
    {
        var input = connection.Transport.Input;
        var limit = _limits.MaxRequestLineSize + _limits.MaxRequestHeadersTotalSize;
        while (true)
        {
            var buffer = read.Buffer;
            var end = FindHeadEnd(buffer);
            if (end is { } length && length <= limit)
            {
                var head = buffer.Slice(0, length).ToArray();
                input.AdvanceTo(buffer.GetPosition(length));
                return head;
            }

            if (end is not null || buffer.Length > limit)
            {
                input.AdvanceTo(buffer.End);
                await RawUpgradeRequest.WriteRefusalAsync(connection.Transport.Output, 431, "request head too large", null, cancellationToken).ConfigureAwait(false);
                await DropRestAsync(connection).ConfigureAwait(false);
                return null;
            }

            if (read.IsCompleted || read.IsCanceled)
            {
                input.AdvanceTo(buffer.End);
                return null;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            try
            {
                read = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
    }

    // The client may still be sending the rest of its head: closing with unread bytes would reset the connection and
    // lose the answer. Finish the answer, then read and drop what still comes, bounded in bytes and time.
    private static async Task DropRestAsync(ConnectionContext connection)
    {
        await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        deadline.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            for (long dropped = 0; dropped < 1024 * 1024;)
            {
                var read = await connection.Transport.Input.ReadAsync(deadline.Token).ConfigureAwait(false);
                dropped += read.Buffer.Length;
                connection.Transport.Input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // The length of the head including "\r\n\r\n", or null if it has not all arrived.
    private static long? FindHeadEnd(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8, advancePastDelimiter: true) ? reader.Consumed : null;
    }
}

/// <summary>Adds <see cref="RawWebSocketHandler"/> to a listener.</summary>
public static class RawWebSocketExtensions
{
    /// <summary>Serves <c>GET /ws</c> on this listener with the node's own handshake, ahead of HTTP.</summary>
    public static ListenOptions UseRawWebSockets(this ListenOptions listen)
    {
        RawWebSocketHandler? handler = null;
        listen.Use(next => connection =>
        {
            handler ??= listen.ApplicationServices.GetRequiredService<RawWebSocketHandler>();
            return handler.OnConnectionAsync(connection, next);
        });
        return listen;
    }
}

/// <summary>A <c>GET /ws</c> request head read off the connection by <see cref="RawWebSocketHandler"/>.</summary>
internal sealed class RawUpgradeRequest : UpgradeRequest
{
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    private static readonly Dictionary<string, string> NoHeaders = [];
    private static readonly Dictionary<string, Microsoft.Extensions.Primitives.StringValues> NoQuery = [];

    private readonly ConnectionContext _connection;
    private readonly TimeProvider _time;
    private IKeepAliveTransport? _keepAlive;

    // Released at the upgrade: the endpoint keeps this request for the life of the connection.
    private Dictionary<string, string> _headers;
    private Dictionary<string, Microsoft.Extensions.Primitives.StringValues> _query;

    private RawUpgradeRequest(ConnectionContext connection, TimeProvider time, Dictionary<string, string> headers, Dictionary<string, Microsoft.Extensions.Primitives.StringValues> query)
    {
        _connection = connection;
        _time = time;
        _headers = headers;
        _query = query;
    }

    public override bool IsWebSocketRequest =>
        HasToken(Header("Upgrade"), "websocket")
        && HasToken(Header("Connection"), "upgrade")
        && Header("Sec-WebSocket-Version") == "13"
        && IsValidKey(Header("Sec-WebSocket-Key"));

    public override string? Token =>
        BearerToken(Header("Authorization")) ?? (Query("access_token") is { Length: > 0 } query ? query : null);

    public override IEnumerable<string> RequestedProtocols =>
        (Header("Sec-WebSocket-Protocol") ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    public override CancellationToken Aborted => _connection.ConnectionClosed;

    public override IKeepAliveTransport? KeepAlive => _keepAlive;

    public override string? Query(string name) => _query.TryGetValue(name, out var values) ? values.ToString() : null;

    /// <summary>Parses a request head (request line "GET /ws[?query] HTTP/1.1" and headers); null if malformed.</summary>
    public static RawUpgradeRequest? Parse(byte[] head, ConnectionContext connection, TimeProvider time)
    {
        // Header bytes outside ASCII are kept one char per byte; none of the headers read here may carry them.
        var lines = Encoding.Latin1.GetString(head).Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine is not ["GET", var target, "HTTP/1.1"] || !target.StartsWith("/ws", StringComparison.Ordinal))
        {
            return null;
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.AsSpan(1))
        {
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || line[0] is ' ' or '\t' || line.AsSpan(0, colon).ContainsAny(' ', '\t'))
            {
                return null;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(' ', '\t');
            headers[name] = headers.TryGetValue(name, out var earlier) ? earlier + ", " + value : value;
        }

        var queryStart = target.IndexOf('?', StringComparison.Ordinal);
        var query = queryStart < 0 ? [] : Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(target[queryStart..]);
        return new RawUpgradeRequest(connection, time, headers, query);
    }

    public override Task RefuseAsync(int status, string reason, int? retryAfterSeconds = null) =>
        WriteRefusalAsync(_connection.Transport.Output, status, reason, retryAfterSeconds, _connection.ConnectionClosed);

    public override async Task<WebSocket> AcceptAsync(string subprotocol, TimeSpan keepAliveInterval, TimeSpan keepAliveTimeout)
    {
        // SHA-1 is what RFC 6455 prescribes for the accept key; it proves nothing about security, only that the server
        // speaks WebSocket.
#pragma warning disable CA5350
        var accept = Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(Encoding.ASCII.GetBytes(Header("Sec-WebSocket-Key") + AcceptGuid)));
#pragma warning restore CA5350
        (_headers, _query) = (NoHeaders, NoQuery);
        var response = $"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n";
        var output = _connection.Transport.Output;
        await output.WriteAsync(Encoding.ASCII.GetBytes(response), _connection.ConnectionClosed).ConfigureAwait(false);
        // The node keeps the socket alive itself (KeepAliveSweep, one walk for all connections): no timer here.
        // The WebSocket owns (and disposes) the stream.
        var stream = new DuplexPipeStream(_connection.Transport, _time);
        _keepAlive = stream;
        return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
        {
            IsServer = true,
            SubProtocol = subprotocol,
            KeepAliveInterval = Timeout.InfiniteTimeSpan,
        });
    }

    /// <summary>Writes an HTTP error with a JSON body <c>{"error": reason}</c>; the connection closes after it.</summary>
    public static async Task WriteRefusalAsync(PipeWriter output, int status, string reason, int? retryAfterSeconds, CancellationToken cancellationToken)
    {
        var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new RefusalBody(reason), RefusalContext.Default.RefusalBody);
        var head = new StringBuilder()
            .Append("HTTP/1.1 ").Append(status).Append(' ').Append(Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status)).Append("\r\n")
            .Append("Content-Type: application/json; charset=utf-8\r\n")
            .Append("Content-Length: ").Append(body.Length).Append("\r\n")
            .Append("Connection: close\r\n");
        if (retryAfterSeconds is { } seconds)
        {
            head.Append("Retry-After: ").Append(seconds).Append("\r\n");
        }

        head.Append("\r\n");
        output.Write(Encoding.ASCII.GetBytes(head.ToString()));
        await output.WriteAsync(body, cancellationToken).ConfigureAwait(false);
    }

    private string? Header(string name) => _headers.GetValueOrDefault(name);

    // A comma-separated header value containing the token, case-insensitively ("keep-alive, Upgrade").
    private static bool HasToken(string? value, string token) =>
        value is not null && value.Split(',', StringSplitOptions.TrimEntries).Any(t => string.Equals(t, token, StringComparison.OrdinalIgnoreCase));

    // The key is 16 random bytes in base64 (24 characters).
    private static bool IsValidKey(string? key)
    {
        Span<byte> bytes = stackalloc byte[18];
        return key is { Length: 24 } && Convert.TryFromBase64String(key, bytes, out var written) && written == 16;
    }
}

/// <summary>
/// A connection's pipes as the stream <see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/> reads
/// and writes, reading from and writing into the pipes' pooled memory. It notes when the client last sent anything,
/// and can write a ping between the WebSocket's frames (<see cref="IKeepAliveTransport"/>): each of the WebSocket's
/// writes is one whole frame, and writes are serialized.
/// </summary>
internal sealed class DuplexPipeStream(IDuplexPipe pipe, TimeProvider time) : Stream, IKeepAliveTransport
{
    // A server's ping: FIN, opcode 9, unmasked, no payload.
    private static readonly byte[] PingFrame = [0x89, 0x00];

    private readonly PipeReader _input = pipe.Input;
    private readonly PipeWriter _output = pipe.Output;
    private readonly SemaphoreSlim _writing = new(1, 1);
    private long _lastReceived = time.GetTimestamp();
    private long _lastPinged;

    public long LastReceived => Volatile.Read(ref _lastReceived);

    public long LastPinged => Volatile.Read(ref _lastPinged);

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public ValueTask PingAsync(CancellationToken cancellationToken)
    {
        // A frame being written is traffic already; the next walk pings if the client stays silent.
        if (!_writing.Wait(0, CancellationToken.None))
        {
            return ValueTask.CompletedTask;
        }

        Volatile.Write(ref _lastPinged, time.GetTimestamp());
        try
        {
            _output.Write(PingFrame);
            var flush = _output.FlushAsync(cancellationToken);
            if (flush.IsCompletedSuccessfully)
            {
                _ = flush.Result;
                _writing.Release();
                return ValueTask.CompletedTask;
            }

            return ReleaseAfterAsync(flush);
        }
        catch
        {
            _writing.Release();
            throw;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var read = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (read.IsCanceled)
            {
                throw new OperationCanceledException(cancellationToken);
            }

            var available = read.Buffer;
            if (!available.IsEmpty)
            {
                var count = (int)Math.Min(available.Length, buffer.Length);
                available.Slice(0, count).CopyTo(buffer.Span);
                _input.AdvanceTo(available.GetPosition(count));
                Volatile.Write(ref _lastReceived, time.GetTimestamp());
                return count;
            }

            _input.AdvanceTo(available.End);
            if (read.IsCompleted)
            {
                return 0;
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _output.Write(buffer.Span);
            if ((await _output.FlushAsync(cancellationToken).ConfigureAwait(false)).IsCanceled)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
        finally
        {
            _writing.Release();
        }
    }

    public override void Flush()
    {
    }

    private async ValueTask ReleaseAfterAsync(ValueTask<FlushResult> flush)
    {
        try
        {
            await flush.ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _writing.Dispose();
        }

        base.Dispose(disposing);
    }
}
