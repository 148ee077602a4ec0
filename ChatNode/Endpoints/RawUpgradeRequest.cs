using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using ChatNode.Connections;
using Microsoft.AspNetCore.Connections;

namespace ChatNode.Endpoints;

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

    protected override string? Authorization => Header("Authorization");

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
        // The node frames the WebSocket on the connection's pipes and keeps it alive itself (KeepAliveSweep, one walk
        // for all connections): no stream, no timer here.
        var socket = new PipeWebSocket(_connection.Transport, subprotocol, _time);
        _keepAlive = socket;
        return socket;
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
