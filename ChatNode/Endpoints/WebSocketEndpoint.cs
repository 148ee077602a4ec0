using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Threading.RateLimiting;
using ChatNode.Auth;
using ChatNode.Commands;
using ChatNode.Connections;
using ChatNode.Delivery;
using ChatNode.Fleet;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Endpoints;

/// <summary>
/// The <c>GET /ws</c> endpoint: authenticates before the upgrade, registers the client, then runs the
/// connection's three loops (receive here, the writer, the inbox replay) and cleans up when any ends.
/// </summary>
public sealed class WebSocketEndpoint : IDisposable
{
    // Frames up to this size are read without renting a buffer; idle connections hold only this.
    private const int SmallFrameBytes = 512;

    /// <summary>A request costs one rate-limit token per started this many bytes of its frame.</summary>
    public const int RequestTokenBytes = 4096;

    // After refusing an oversize message, at most this much of its rest is read and dropped, for at most DropTime,
    // so that the close frame reaches the client (see DropRestAsync).
    private const long MaxDroppedBytes = 32L * 1024 * 1024;
    private static readonly TimeSpan DropTime = TimeSpan.FromSeconds(2);

    private readonly TokenService _tokens;
    private readonly IClientStore _clients;
    private readonly ConnectionRegistry _registry;
    private readonly CloseSchedule _closeSchedule;
    private readonly CommandDispatcher _dispatcher;
    private readonly DeliveryService _delivery;
    private readonly ConnectionOptions _options;
    private readonly CommandOptions _limits;
    private readonly DeliveryOptions _deliveryOptions;
    private readonly ConnectionMetrics _metrics;
    private readonly FleetMetrics _fleetMetrics;
    private readonly TimeProvider _time;
    private readonly ILogger<WebSocketEndpoint> _logger;
    private readonly CancellationToken _stopping;
    private readonly PartitionedRateLimiter<ClientAddress> _connectLimiter;
    private readonly Ownership _ownership;
    private readonly ConnectRouter _router;
    private readonly int _connectionLimit;
    private int _held;

    public WebSocketEndpoint(
        TokenService tokens,
        IClientStore clients,
        ConnectionRegistry registry,
        CloseSchedule closeSchedule,
        CommandDispatcher dispatcher,
        DeliveryService delivery,
        IOptions<ConnectionOptions> options,
        IOptions<CommandOptions> limits,
        IOptions<DeliveryOptions> deliveryOptions,
        ConnectionMetrics metrics,
        FleetMetrics fleetMetrics,
        TimeProvider time,
        IHostApplicationLifetime lifetime,
        Ownership ownership,
        ConnectRouter router,
        ILogger<WebSocketEndpoint> logger)
    {
        _ownership = ownership;
        _router = router;
        _tokens = tokens;
        _clients = clients;
        _registry = registry;
        _closeSchedule = closeSchedule;
        _dispatcher = dispatcher;
        _delivery = delivery;
        _options = options.Value;
        _limits = limits.Value;
        _deliveryOptions = deliveryOptions.Value;
        _metrics = metrics;
        _fleetMetrics = fleetMetrics;
        _time = time;
        _logger = logger;
        _stopping = lifetime.ApplicationStopping;
        _connectionLimit = _options.ConnectionLimit(DescriptorLimit.Read());
        var connectOptions = new TokenBucketRateLimiterOptions
        {
            TokenLimit = _options.ConnectBurst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1) / _options.ConnectsPerMinute,
            QueueLimit = 0,
            AutoReplenishment = false,
        };
        _connectLimiter = PartitionedRateLimiter.Create<ClientAddress, ClientAddress>(client => RateLimitPartition.GetTokenBucketLimiter(client, _ => connectOptions));
    }

    public void Dispose()
    {
        _connectLimiter.Dispose();
    }

    /// <summary>Serves an upgrade that came through the HTTP pipeline.</summary>
    public Task HandleAsync(HttpContext context) => HandleAsync(new HttpUpgradeRequest(context));

    /// <summary>Serves one <c>GET /ws</c>: refuses it with an HTTP error, redirects it, or runs the connection until it ends.</summary>
    public async Task HandleAsync(UpgradeRequest upgrade)
    {
        if (!upgrade.IsWebSocketRequest)
        {
            await Refuse(upgrade, StatusCodes.Status400BadRequest, "this endpoint only accepts WebSocket upgrades").ConfigureAwait(false);
            return;
        }

        if (!_tokens.TryValidate(upgrade.Token, out var identity, out var reason))
        {
            await Refuse(upgrade, StatusCodes.Status401Unauthorized, reason).ConfigureAwait(false);
            return;
        }

        if (!FrameCodec.TryGetEncoding(upgrade.RequestedProtocols, out var encoding, out var subprotocol))
        {
            await Refuse(upgrade, StatusCodes.Status400BadRequest, $"request the subprotocol {ChatProtocol.ProtoSubprotocol} or {ChatProtocol.JsonSubprotocol}").ConfigureAwait(false);
            return;
        }

        // A node serves only the users it is the target owner of: others learn where to go, before anything is
        // registered here.
        if (await _router.RouteAsync(identity.UserId, upgrade.Query(ConnectRouter.EpochParameter), upgrade.Aborted).ConfigureAwait(false) is var (owner, epoch))
        {
            using var redirected = await upgrade.AcceptAsync(subprotocol, _options.KeepAliveInterval, _options.KeepAliveTimeout).ConfigureAwait(false);
            await redirected.SendAsync(FrameCodec.Encode(Frames.Redirect(owner.WebSocketUrl, owner.NodeId, epoch), encoding), FrameCodec.MessageType(encoding), true, upgrade.Aborted).ConfigureAwait(false);
            await redirected.CloseOutputAsync((WebSocketCloseStatus)(int)CloseCode.Redirect, "user owned by " + owner.NodeId, upgrade.Aborted).ConfigureAwait(false);
            _fleetMetrics.Redirected();
            return;
        }

        // A node at its connection limit serves no more: past it, a flood of connects would take the descriptors the
        // node needs to run. Counted, not logged one by one.
        if (Interlocked.Increment(ref _held) > _connectionLimit)
        {
            Interlocked.Decrement(ref _held);
            _metrics.RefusedFull();
            await Refuse(upgrade, StatusCodes.Status503ServiceUnavailable, "node full: it holds its maximum of connections, retry later or elsewhere", retryAfterSeconds: 5, log: false).ConfigureAwait(false);
            return;
        }

        try
        {
            await ServeAsync(upgrade, identity, encoding, subprotocol).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _held);
        }
    }

    // Serves an upgrade holding one of the node's connection slots: the client's connect budget, its registration, then
    // the connection until it ends.
    private async Task ServeAsync(UpgradeRequest upgrade, TokenIdentity identity, FrameEncoding encoding, string subprotocol)
    {
        // Each connect served here costs a registration and an inbox read: one client reconnecting in a loop (or many
        // loops) is held to its connect budget. Not logged one by one (a loop would flood the log): counted.
        var address = new ClientAddress(identity.UserId, identity.ClientId);
        using (var connect = _connectLimiter.AttemptAcquire(address))
        {
            if (!connect.IsAcquired)
            {
                _metrics.ConnectRateLimited();
                await Refuse(upgrade, StatusCodes.Status429TooManyRequests, "too many connects of this client, retry later", retryAfterSeconds: 5, log: false).ConfigureAwait(false);
                return;
            }
        }

        ClientRegistration registration;
        try
        {
            registration = await _clients.RegisterAsync(address, _limits.MaxClientsPerUser, identity.IssuedAt, upgrade.Aborted).ConfigureAwait(false);
        }
        catch (StoreUnavailableException)
        {
            await Refuse(upgrade, StatusCodes.Status503ServiceUnavailable, "store unavailable, retry with backoff").ConfigureAwait(false);
            return;
        }
        catch (StoreFullException)
        {
            // Only a client not registered yet needs room in the store; registered ones connect and read as usual.
            await Refuse(upgrade, StatusCodes.Status503ServiceUnavailable, "store full: no new client can register now, retry with backoff").ConfigureAwait(false);
            return;
        }

        using var socket = await upgrade.AcceptAsync(subprotocol, _options.KeepAliveInterval, _options.KeepAliveTimeout).ConfigureAwait(false);

        // Refusals of a registration come after the upgrade so that browsers, which cannot read an HTTP error, see the reason.
        var refusal = registration switch
        {
            ClientRegistration.LimitReached => (
                Frames.Error(ErrorCode.TooManyClients, $"User {identity.UserId} already has {_limits.MaxClientsPerUser} clients; deactivate one from another client first."),
                CloseCode.TooManyClients, "too many clients"),
            // A token from before the client's deactivation cannot bring it back: the user must sign the device in again.
            ClientRegistration.Deactivated => (
                Frames.Error(ErrorCode.Forbidden, $"Client {identity.ClientId} was deactivated after this token was issued; sign in again for a new token."),
                CloseCode.ClientDeactivated, "client deactivated"),
            _ => ((ServerFrame Error, CloseCode Code, string Reason)?)null,
        };
        if (refusal is var (error, code, closeReason))
        {
            await socket.SendAsync(FrameCodec.Encode(error, encoding), FrameCodec.MessageType(encoding), true, upgrade.Aborted).ConfigureAwait(false);
            await socket.CloseOutputAsync((WebSocketCloseStatus)(int)code, closeReason, upgrade.Aborted).ConfigureAwait(false);
            EndpointLog.ConnectionRefused(_logger, $"{address}: {closeReason}");
            return;
        }

        using var connection = new ClientConnection(socket, address, encoding, _options, _metrics, _time, upgrade.KeepAlive);
        await RunAsync(connection, identity).ConfigureAwait(false);
    }

    private async Task RunAsync(ClientConnection connection, TokenIdentity identity)
    {
        _metrics.Opened();
        EndpointLog.ConnectionOpened(_logger, connection.Id, connection.Address.ToString(), connection.Encoding.ToString());
        // Node shutdown closes connections through ConnectionDrainer, gracefully; only the connection's own abort cancels here.
        var stop = connection.Aborted;
        var writer = connection.RunWriterAsync();
        _registry.Add(connection)?.Close(CloseCode.SessionReplaced, "the same client connected again");
        connection.Send(new OutboundFrame(Frames.Welcome(connection.Address.UserId, connection.Address.ClientId, _ownership.NodeId, _options.MaxFrameBytes)));

        // Close with "token expired" when the token runs out (within a second), so a client cannot outlive its
        // credentials. One schedule for the node, not a timer per connection. A token valid for over 45 days is not
        // timed (as documented; it is checked again at the next upgrade).
        using var expiry = identity.ExpiresAt - _time.GetUtcNow() > TimeSpan.FromDays(45)
            ? null
            : _closeSchedule.Add(connection, identity.ExpiresAt, CloseCode.TokenExpired, "token expired");
        var replay = ReplayAsync(connection, stop);
        using var requests = new RequestTracker(_options.MaxInFlightRequests);
        var reason = "client closed";
        try
        {
            reason = await ReceiveLoopAsync(connection, requests, stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
            reason = connection.CloseCode?.ToString() ?? (_stopping.IsCancellationRequested ? "node stopping" : "connection lost");
        }
        catch (Exception ex)
        {
            EndpointLog.ConnectionFailed(_logger, connection.Id, ex);
            reason = "internal error";
        }
        finally
        {
            _registry.Remove(connection);
            connection.CloseByClient();
            await requests.DrainAsync().ConfigureAwait(false);
            await replay.ConfigureAwait(false);
            await writer.ConfigureAwait(false);
            _metrics.Closed(reason);
            EndpointLog.ConnectionClosed(_logger, connection.Id, reason);
        }
    }

    private async Task<string> ReceiveLoopAsync(ClientConnection connection, RequestTracker requests, CancellationToken cancellationToken)
    {
        var socket = connection.Socket;
        var expected = FrameCodec.MessageType(connection.Encoding);

        // The connection's request rate, in tokens: owned by this loop, refilled on use (no shared lock, no timer).
        var budget = new TokenBucket(_options.RequestBurst, _options.RequestsPerSecond, _time.GetTimestamp(), _time);

        string ClosedByClient() => connection.CloseCode?.ToString() ?? "client closed";

        async Task<string> RefuseTooLargeAsync()
        {
            connection.Evict(CloseCode.FrameTooLarge, $"frames are limited to {_options.MaxFrameBytes} bytes");
            await DropRestAsync(socket, cancellationToken).ConfigureAwait(false);
            return "frame too large";
        }

        while (true)
        {
            // Waits for the next message with no buffer (a zero-byte read): an idle connection holds none. Most
            // messages fit the small buffer, rented for the message; a longer one moves to one of the full limit.
            var next = await socket.ReceiveAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            if (next.MessageType == WebSocketMessageType.Close)
            {
                return ClosedByClient();
            }

            if (next.MessageType != expected)
            {
                connection.Evict(CloseCode.UnsupportedData, $"expected {expected} frames for this subprotocol");
                return "unsupported data";
            }

            var small = ArrayPool<byte>.Shared.Rent(SmallFrameBytes);
            byte[]? rented = null;
            var length = 0;
            try
            {
                if (!next.EndOfMessage)
                {
                    next = await socket.ReceiveAsync(small.AsMemory(0, SmallFrameBytes), cancellationToken).ConfigureAwait(false);
                    length = next.Count;
                }

                // A close may come between a message's frames.
                if (next.MessageType == WebSocketMessageType.Close)
                {
                    return ClosedByClient();
                }

                if (!next.EndOfMessage)
                {
                    rented = ArrayPool<byte>.Shared.Rent(_options.MaxFrameBytes + 1);
                    small.AsSpan(0, length).CopyTo(rented);
                    do
                    {
                        if (length > _options.MaxFrameBytes)
                        {
                            return await RefuseTooLargeAsync().ConfigureAwait(false);
                        }

                        next = await socket.ReceiveAsync(rented.AsMemory(length, _options.MaxFrameBytes + 1 - length), cancellationToken).ConfigureAwait(false);
                        if (next.MessageType == WebSocketMessageType.Close)
                        {
                            return ClosedByClient();
                        }

                        length += next.Count;
                    }
                    while (!next.EndOfMessage);

                    if (length > _options.MaxFrameBytes)
                    {
                        return await RefuseTooLargeAsync().ConfigureAwait(false);
                    }
                }

                var payload = rented is null ? small.AsSpan(0, length) : rented.AsSpan(0, length);
                if (!FrameCodec.TryDecode(payload, connection.Encoding, out var request, out var error))
                {
                    EndpointLog.MalformedFrame(_logger, connection.Id, error);
                    if (connection.RecordBadFrame())
                    {
                        connection.Evict(CloseCode.BadFrames, "too many malformed or rate-limited frames");
                        return "bad frames";
                    }

                    connection.Send(new OutboundFrame(Frames.Error(ErrorCode.BadRequest, "Malformed frame: " + error)));
                    continue;
                }

                // A request costs a token per started 4 KiB of its frame: decoding a 64 KiB frame costs the node what
                // sixteen small requests do, and a connection must not get it for the price of one.
                if (!budget.TryTake(1 + ((length - 1) / RequestTokenBytes), _time.GetTimestamp()))
                {
                    if (connection.RecordBadFrame())
                    {
                        connection.Evict(CloseCode.BadFrames, "too many malformed or rate-limited frames");
                        return "bad frames";
                    }

                    connection.Send(new OutboundFrame(Frames.Error(ErrorCode.RateLimited, $"More than {_options.RequestsPerSecond} requests per second; slow down.", request.RequestId)));
                    continue;
                }

                await requests.WaitForSlotAsync(cancellationToken).ConfigureAwait(false);
                _ = HandleRequestAsync(connection, request, requests, cancellationToken);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(small);
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }
    }

    // The client may still be sending the rest of the oversize message (more fragments, or the rest of one huge frame).
    // Closing the socket with unread data makes the kernel reset the connection, the close frame is lost and the client
    // sees 1006 ("retry") instead of 4103: read and drop the rest, bounded in bytes and time, until the client answers
    // the close.
    private static async Task DropRestAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(DropTime);
        var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            for (long dropped = 0; dropped < MaxDroppedBytes;)
            {
                var result = await socket.ReceiveAsync(scratch.AsMemory(), deadline.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                dropped += result.Count;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    // Runs in a slot of the connection's tracker and gives it back. Never throws: DispatchAsync turns every failure into
    // an error frame, and cancellation ends quietly.
    private async Task HandleRequestAsync(ClientConnection connection, ClientFrame request, RequestTracker requests, CancellationToken cancellationToken)
    {
        try
        {
            // Each request starts a trace of its own: the upgrade request's span (if the host made one) lives as long as
            // the connection and must not become the parent of every message sent on it.
            Activity.Current = null;
            var result = await _dispatcher.DispatchAsync(connection, request, cancellationToken).ConfigureAwait(false);
            // A quiet ack is answered only when it fails: a frame less per message for clients that ack as they go.
            if (result.BodyCase != ServerFrame.BodyOneofCase.AckResult || !request.Ack.Quiet)
            {
                connection.Send(new OutboundFrame(result));
            }

            if (connection.TakeCloseAfterResult() is { } close)
            {
                connection.Close(close.Code, close.Reason);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            requests.Release();
        }
    }

    private async Task ReplayAsync(ClientConnection connection, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            var count = await _delivery.ReplayAsync(connection, _deliveryOptions.ReplayPageSize, cancellationToken).ConfigureAwait(false);
            connection.Send(new OutboundFrame(Frames.InboxReplayed(count)));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Without its inbox the connection would silently miss messages: close it so the client reconnects.
            EndpointLog.ReplayFailed(_logger, connection.Address.ToString(), ex);
            connection.Close(CloseCode.StoreUnavailable, "inbox replay failed");
        }
    }

    // `log: false` for refusals a client loop can repeat by the hundred a second (they are counted instead).
    private Task Refuse(UpgradeRequest upgrade, int status, string reason, int? retryAfterSeconds = null, bool log = true)
    {
        if (log)
        {
            EndpointLog.ConnectionRefused(_logger, reason);
        }

        return upgrade.RefuseAsync(status, reason, retryAfterSeconds);
    }

    /// <summary>
    /// Bounds the requests of one connection processed at once, and waits for them when the connection ends. A request
    /// takes a slot before it starts and gives it back when it ends, whatever the outcome.
    /// </summary>
    private sealed class RequestTracker(int limit) : IDisposable
    {
        private readonly SemaphoreSlim _slots = new(limit, limit);
        private readonly int _limit = limit;

        public Task WaitForSlotAsync(CancellationToken cancellationToken) => _slots.WaitAsync(cancellationToken);

        public void Release() => _slots.Release();

        public void Dispose() => _slots.Dispose();

        public async Task DrainAsync()
        {
            for (var i = 0; i < _limit; i++)
            {
                await _slots.WaitAsync().ConfigureAwait(false);
            }
        }
    }
}

internal sealed record RefusalBody(string Error);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RefusalBody))]
internal sealed partial class RefusalContext : System.Text.Json.Serialization.JsonSerializerContext;
