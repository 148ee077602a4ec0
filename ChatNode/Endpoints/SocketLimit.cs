using ChatNode.Connections;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.Endpoints;

/// <summary>
/// The client listener's limit on open sockets, so that a flood of connects cannot take the descriptors the node needs
/// (its store, registry and peer connections, and the other listeners, which this limit leaves alone: probes, metrics
/// and peers still get through a flooded node). A socket past the limit is closed as soon as it is accepted.
/// </summary>
public static class SocketLimit
{
    /// <summary>
    /// Sockets the client listener keeps open at once: the WebSocket limit and half the descriptors above it (so that
    /// a full node still answers its 503 and serves routes), the other half left for everything else. No limit where
    /// the descriptor limit is unknown and no connection limit is set.
    /// </summary>
    public static long? For(ConnectionOptions connections, long? descriptors)
    {
        var websockets = connections.ConnectionLimit(descriptors);
        return descriptors is { } d ? Math.Max(websockets, d - Math.Max(128, (d - websockets) / 2))
            : websockets < int.MaxValue ? websockets + 1000L : null;
    }

    /// <summary>Closes sockets of this listener beyond <paramref name="limit"/> open at once, counting each.</summary>
    public static ListenOptions UseSocketLimit(this ListenOptions listen, long limit)
    {
        long open = 0;
        ConnectionMetrics? metrics = null;
        listen.Use(next => async connection =>
        {
            if (Interlocked.Increment(ref open) > limit)
            {
                Interlocked.Decrement(ref open);
                (metrics ??= listen.ApplicationServices.GetRequiredService<ConnectionMetrics>()).SocketRejected();
                connection.Abort(new ConnectionAbortedException("The node holds its maximum of sockets."));
                return;
            }

            try
            {
                await next(connection).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref open);
            }
        });
        return listen;
    }
}
