using System.Net.WebSockets;
using ChatNode.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace ChatNode.Endpoints;

/// <summary>
/// What <see cref="WebSocketEndpoint"/> needs from a <c>GET /ws</c> upgrade, whoever parsed it: ASP.NET Core's HTTP/1.1
/// pipeline (<see cref="HttpUpgradeRequest"/>) or the node's own handshake on the client listener
/// (<see cref="RawWebSocketHandler"/>), which keeps no HTTP request state under the socket.
/// </summary>
public abstract class UpgradeRequest
{
    /// <summary>A GET with valid WebSocket upgrade headers (RFC 6455 section 4.2.1).</summary>
    public abstract bool IsWebSocketRequest { get; }

    /// <summary>The bearer token of the <c>Authorization</c> header, else the <c>access_token</c> query parameter.</summary>
    public string? Token => BearerToken(Authorization) ?? (Query("access_token") is { Length: > 0 } query ? query : null);

    /// <summary>The <c>Authorization</c> header, or null.</summary>
    protected abstract string? Authorization { get; }

    /// <summary>The subprotocols the client offers, in its order of preference.</summary>
    public abstract IEnumerable<string> RequestedProtocols { get; }

    /// <summary>The query parameter <paramref name="name"/>, or null.</summary>
    public abstract string? Query(string name);

    /// <summary>Cancelled when the client goes away before the upgrade.</summary>
    public abstract CancellationToken Aborted { get; }

    /// <summary>Answers with an HTTP error and a JSON body <c>{"error": reason}</c>; with a <c>Retry-After</c> when given.</summary>
    public abstract Task RefuseAsync(int status, string reason, int? retryAfterSeconds = null);

    /// <summary>
    /// Answers 101 with <paramref name="subprotocol"/> and returns the server side of the WebSocket, kept alive with the
    /// given ping interval and pong timeout (by the WebSocket's timer, or by the node when <see cref="KeepAlive"/> is set).
    /// </summary>
    public abstract Task<WebSocket> AcceptAsync(string subprotocol, TimeSpan keepAliveInterval, TimeSpan keepAliveTimeout);

    /// <summary>
    /// After <see cref="AcceptAsync"/>: the transport under the WebSocket if the node keeps it alive itself
    /// (<see cref="KeepAliveSweep"/>); null when the WebSocket runs its own keep-alive timer.
    /// </summary>
    public virtual IKeepAliveTransport? KeepAlive => null;

    private static string? BearerToken(string? authorization) =>
        authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? authorization["Bearer ".Length..].Trim()
            : null;
}

/// <summary>An upgrade that came through ASP.NET Core's HTTP/1.1 pipeline (e.g. after other requests on the connection).</summary>
internal sealed class HttpUpgradeRequest(HttpContext context) : UpgradeRequest
{
    public override bool IsWebSocketRequest => context.WebSockets.IsWebSocketRequest;

    protected override string? Authorization => context.Request.Headers.Authorization.ToString();

    public override IEnumerable<string> RequestedProtocols => context.WebSockets.WebSocketRequestedProtocols;

    public override CancellationToken Aborted => context.RequestAborted;

    public override string? Query(string name) => context.Request.Query[name] is { Count: > 0 } values ? values.ToString() : null;

    public override Task RefuseAsync(int status, string reason, int? retryAfterSeconds = null)
    {
        if (retryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = new StringValues(seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new RefusalBody(reason), RefusalContext.Default.RefusalBody, cancellationToken: context.RequestAborted);
    }

    public override Task<WebSocket> AcceptAsync(string subprotocol, TimeSpan keepAliveInterval, TimeSpan keepAliveTimeout) =>
        context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = subprotocol,
            KeepAliveInterval = keepAliveInterval,
            KeepAliveTimeout = keepAliveTimeout,
        });
}
