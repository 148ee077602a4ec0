using System.Buffers;
using System.IO.Pipelines;
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
