using System.Diagnostics;
using System.Runtime.InteropServices;
using ChatNode.Connections;
using ChatNode.Delivery;
using ChatNode.Diagnostics;
using ChatNode.Fleet;
using ChatNode.Protocol;
using ChatNode.Protocol.Peer;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Peering;

/// <summary>
/// The receiving end of peer streams: pushes each forwarded delivery to this node's connections of the named users
/// (the frame arrives serialized; protobuf clients get those very bytes) and acknowledges the batches (the first at once,
/// then at most once per <see cref="PeerOptions.PeerAckInterval"/>). Fencing:
/// a user this node owns in neither its current nor its target ring is refused when this node's ring view is at least
/// as new as the epoch the sender routed by (counted as <c>chat.peer.fenced</c>; the inbox still delivers). Users a batch
/// names for a resync (the sender dropped or lost pushes for them) get their connections' inboxes pushed at once. Also answers
/// a joining node's question how many connections this node still has to hand over to it. Every call must carry the
/// fleet secret's signature of its node id, and that node must be a member of the ring (a node this node has not seen
/// yet is waited for up to <see cref="PeerOptions.PeerMembershipWait"/>); refusals are counted
/// (<c>chat.peer.refused</c>) and logged at most once per <see cref="RefusalLogInterval"/>.
/// </summary>
internal sealed class PeerService : Peer.PeerBase
{
    public static readonly TimeSpan RefusalLogInterval = TimeSpan.FromSeconds(10);

    private readonly PeerAuth _auth;
    private readonly DeliveryService _delivery;
    private readonly Ownership _ownership;
    private readonly ConnectionRegistry _connections;
    private readonly PeerMetrics _metrics;
    private readonly ILogger<PeerService> _logger;
    private readonly RefusalLog _refusals;
    private readonly TimeSpan _membershipWait;
    private readonly TimeProvider _time;
    private readonly TimeSpan _ackInterval;
    private readonly CancellationToken _stopping;

    public PeerService(
        PeerAuth auth, DeliveryService delivery, Ownership ownership, ConnectionRegistry connections, PeerMetrics metrics, RefusalLog refusals, IOptions<PeerOptions> options, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<PeerService> logger)
    {
        _time = time;
        _stopping = lifetime.ApplicationStopping;
        _auth = auth;
        _delivery = delivery;
        _ownership = ownership;
        _connections = connections;
        _metrics = metrics;
        _logger = logger;
        _refusals = refusals;
        _membershipWait = options.Value.PeerMembershipWait;
        _ackInterval = options.Value.PeerAckInterval;
    }

    public override async Task Deliver(IAsyncStreamReader<DeliveryBatch> requestStream, IServerStreamWriter<DeliveryBatchAck> responseStream, ServerCallContext context)
    {
        await AuthenticateAsync(context).ConfigureAwait(false);

        // The caller counts its stream as open once these headers arrive.
        await context.WriteResponseHeadersAsync([]).ConfigureAwait(false);

        // Acks are informational (the sender only watches for the stream's end), so a stream of single deliveries is
        // not answered with a frame each: the first batch is acked at once, later ones at most once per
        // Node:PeerAckInterval, and what is left unacked when the sender completes the stream. An ack covers every
        // batch up to its id; pushed counts the connections pushed to since the previous ack.
        var pending = default(DeliveryBatchAck);
        long lastAck = 0;
        await foreach (var batch in requestStream.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            var pushed = Push(batch);
            if (batch.ResyncUserIds.Count > 0)
            {
                // Not awaited, and not ended with the stream: the stream goes on while the inboxes are read (failures
                // are logged inside), and a stream that breaks meanwhile does not cancel them.
                _metrics.ResyncAsked(batch.ResyncUserIds.Count);
                _ = _delivery.ResyncUsersAsync(batch.ResyncUserIds, batch.ResyncStoredBeforeUs, _stopping);
            }

            pending ??= new DeliveryBatchAck();
            pending.BatchId = batch.BatchId;
            pending.Pushed += (uint)pushed;
            var now = _time.GetTimestamp();
            if (lastAck == 0 || _time.GetElapsedTime(lastAck, now) >= _ackInterval)
            {
                await responseStream.WriteAsync(pending, context.CancellationToken).ConfigureAwait(false);
                (pending, lastAck) = (null, now);
            }
        }

        if (pending is not null)
        {
            await responseStream.WriteAsync(pending, context.CancellationToken).ConfigureAwait(false);
        }
    }

    // Pushes a batch's deliveries to this node's connections; returns how many connections were pushed to.
    private int Push(DeliveryBatch batch)
    {
        var pushed = 0;
        foreach (var delivery in batch.Deliveries)
        {
            // A traced send continues here: the push is one more span of its trace.
            using var span = delivery.TraceParent.Length > 0 && ActivityContext.TryParse(delivery.TraceParent, null, out var parent)
                ? Telemetry.Source.StartActivity("peer.deliver", ActivityKind.Consumer, parent)
                : null;
            var users = Fence(delivery);
            if (users.Count > 0)
            {
                var frame = OutboundFrame.FromProto(OwnBytes(delivery.Frame), delivery.DeliveryId);
                pushed += _delivery.PushToLocal(users, new ClientAddress(delivery.ExcludeUserId, delivery.ExcludeClientId), frame, delivery.StoredAtUs);
            }
        }

        _metrics.Received(batch.Deliveries.Count);
        return pushed;
    }

    // The frame's bytes without a copy: a parsed bytes field owns an array of exactly its length, which nothing writes.
    private static byte[] OwnBytes(ByteString frame) =>
        MemoryMarshal.TryGetArray(frame.Memory, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : frame.ToByteArray();

    public override async Task<HandoffStatusReply> HandoffStatus(HandoffStatusRequest request, ServerCallContext context)
    {
        await AuthenticateAsync(context).ConfigureAwait(false);
        var view = _ownership.View;
        var remaining = 0;
        foreach (var connection in _connections.Snapshot())
        {
            if (!connection.IsClosing && view.TargetOwner(connection.Address.UserId)?.NodeId == request.NodeId && request.NodeId != view.SelfId)
            {
                remaining++;
            }
        }

        return new HandoffStatusReply { Remaining = (uint)remaining, Epoch = view.Epoch };
    }

    // The users of the delivery this node does work for; the others are refused (fenced) when this node's view is at
    // least as new as the sender's. A view older than the sender's is behind: the sender knows better.
    private IReadOnlyList<string> Fence(Protocol.Peer.Delivery delivery)
    {
        var view = _ownership.View;
        if (view.Epoch < delivery.Epoch || OwnsAll(view, delivery.UserIds))
        {
            return delivery.UserIds;
        }

        var owned = delivery.UserIds.Where(view.OwnsEither).ToList();
        _metrics.Fenced(delivery.UserIds.Count - owned.Count);
        PeerLog.Fenced(_logger, delivery.DeliveryId, delivery.UserIds.Count - owned.Count, delivery.Epoch, view.Epoch);
        return owned;
    }

    private static bool OwnsAll(OwnershipView view, RepeatedField<string> users)
    {
        for (var i = 0; i < users.Count; i++)
        {
            if (!view.OwnsEither(users[i]))
            {
                return false;
            }
        }

        return true;
    }

    private async Task AuthenticateAsync(ServerCallContext context)
    {
        var node = context.RequestHeaders.GetValue(PeerAuth.NodeHeader);
        if (!_auth.Verify(node, context.RequestHeaders.GetValue(PeerAuth.AuthHeader)))
        {
            throw Refuse("credentials", $"bad fleet credentials from {context.Peer} claiming to be '{node}'", StatusCode.Unauthenticated, "peer credentials do not match the fleet secret");
        }

        if (!await IsMemberAsync(node!, context.CancellationToken).ConfigureAwait(false))
        {
            throw Refuse("membership", $"'{node}' at {context.Peer} is not a member of the ring (epoch {_ownership.Epoch})", StatusCode.PermissionDenied, "the calling node is not a member of the ring");
        }
    }

    // A member of this node's ring view; a node that just registered may not be in it yet, so wait a little for news.
    private async Task<bool> IsMemberAsync(string nodeId, CancellationToken cancellationToken)
    {
        var view = _ownership.View;
        if (view.Ring.Find(nodeId) is not null)
        {
            return true;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(_membershipWait);
        try
        {
            while (view.Ring.Find(nodeId) is null)
            {
                await _ownership.ChangedAfterAsync(view, wait.Token).ConfigureAwait(false);
                view = _ownership.View;
            }

            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private RpcException Refuse(string reason, string detail, StatusCode status, string message)
    {
        _metrics.Refused(reason);
        if (_refusals.ShouldLog(out var suppressed))
        {
            PeerLog.Refused(_logger, detail, suppressed);
        }

        return new RpcException(new Status(status, message));
    }
}

/// <summary>
/// When to log a refused peer call: at most once per <see cref="PeerService.RefusalLogInterval"/>, with the number of
/// refusals not logged since; one instance per node (peer services are made per call). Thread-safe.
/// </summary>
internal sealed class RefusalLog(TimeProvider time)
{
    private long _lastLogged;
    private long _suppressed;

    public bool ShouldLog(out long suppressed)
    {
        var last = Interlocked.Read(ref _lastLogged);
        var now = time.GetTimestamp();
        if ((last == 0 || time.GetElapsedTime(last, now) >= PeerService.RefusalLogInterval) && Interlocked.CompareExchange(ref _lastLogged, now, last) == last)
        {
            suppressed = Interlocked.Exchange(ref _suppressed, 0);
            return true;
        }

        Interlocked.Increment(ref _suppressed);
        suppressed = 0;
        return false;
    }
}
