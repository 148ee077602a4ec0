using System.Diagnostics;
using ChatNode.Connections;
using ChatNode.Delivery;
using ChatNode.Diagnostics;
using ChatNode.Fleet;
using ChatNode.Protocol;
using ChatNode.Protocol.Peer;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace ChatNode.Peering;

/// <summary>
/// The receiving end of peer streams: pushes each forwarded delivery to this node's connections of the named users
/// (the frame arrives serialized; protobuf clients get those very bytes) and answers every batch with an ack. Fencing:
/// a user this node owns in neither its current nor its target ring is refused when this node's ring view is at least
/// as new as the epoch the sender routed by (counted as <c>chat.peer.fenced</c>; the inbox still delivers). Also answers
/// a joining node's question how many connections this node still has to hand over to it.
/// </summary>
internal sealed class PeerService : Peer.PeerBase
{
    private readonly PeerAuth _auth;
    private readonly DeliveryService _delivery;
    private readonly Ownership _ownership;
    private readonly ConnectionRegistry _connections;
    private readonly PeerMetrics _metrics;
    private readonly ILogger<PeerService> _logger;

    public PeerService(PeerAuth auth, DeliveryService delivery, Ownership ownership, ConnectionRegistry connections, PeerMetrics metrics, ILogger<PeerService> logger)
    {
        _auth = auth;
        _delivery = delivery;
        _ownership = ownership;
        _connections = connections;
        _metrics = metrics;
        _logger = logger;
    }

    public override async Task Deliver(IAsyncStreamReader<DeliveryBatch> requestStream, IServerStreamWriter<DeliveryBatchAck> responseStream, ServerCallContext context)
    {
        Authenticate(context);

        // The caller counts its stream as open once these headers arrive.
        await context.WriteResponseHeadersAsync([]).ConfigureAwait(false);
        await foreach (var batch in requestStream.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            var pushed = 0;
            foreach (var delivery in batch.Deliveries)
            {
                // A traced send continues here: the push is one more span of its trace.
                using var span = delivery.TraceParent.Length > 0 && ActivityContext.TryParse(delivery.TraceParent, null, out var parent)
                    ? Telemetry.Source.StartActivity("peer.deliver", ActivityKind.Consumer, parent)
                    : null;
                var users = Fence(delivery);
                if (users.Count == 0)
                {
                    continue;
                }

                var bytes = delivery.Frame.ToByteArray();
                var frame = new OutboundFrame(ServerFrame.Parser.ParseFrom(bytes), delivery.DeliveryId, bytes);
                pushed += _delivery.PushToLocal(users, new ClientAddress(delivery.ExcludeUserId, delivery.ExcludeClientId), frame, delivery.StoredAtUs);
            }

            _metrics.Received(batch.Deliveries.Count);
            await responseStream.WriteAsync(new DeliveryBatchAck { BatchId = batch.BatchId, Pushed = (uint)pushed }, context.CancellationToken).ConfigureAwait(false);
        }
    }

    public override Task<HandoffStatusReply> HandoffStatus(HandoffStatusRequest request, ServerCallContext context)
    {
        Authenticate(context);
        var view = _ownership.View;
        var remaining = 0;
        foreach (var connection in _connections.Snapshot())
        {
            if (!connection.IsClosing && view.TargetOwner(connection.Address.UserId)?.NodeId == request.NodeId && request.NodeId != view.SelfId)
            {
                remaining++;
            }
        }

        return Task.FromResult(new HandoffStatusReply { Remaining = (uint)remaining, Epoch = view.Epoch });
    }

    // The users of the delivery this node does work for; the others are refused (fenced) when this node's view is at
    // least as new as the sender's. A view older than the sender's is behind: the sender knows better.
    private IReadOnlyList<string> Fence(Protocol.Peer.Delivery delivery)
    {
        var view = _ownership.View;
        if (view.Epoch < delivery.Epoch || delivery.UserIds.All(view.OwnsEither))
        {
            return delivery.UserIds;
        }

        var owned = delivery.UserIds.Where(view.OwnsEither).ToList();
        _metrics.Fenced(delivery.UserIds.Count - owned.Count);
        PeerLog.Fenced(_logger, delivery.DeliveryId, delivery.UserIds.Count - owned.Count, delivery.Epoch, view.Epoch);
        return owned;
    }

    private void Authenticate(ServerCallContext context)
    {
        var node = context.RequestHeaders.GetValue(PeerAuth.NodeHeader);
        if (!_auth.Verify(node, context.RequestHeaders.GetValue(PeerAuth.AuthHeader)))
        {
            PeerLog.Refused(_logger, $"bad credentials from {context.Peer} claiming to be '{node}'");
            throw new RpcException(new Status(StatusCode.Unauthenticated, "peer credentials do not match the cluster secret"));
        }
    }
}
