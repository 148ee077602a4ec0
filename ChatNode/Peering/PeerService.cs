using System.Diagnostics;
using ChatNode.Delivery;
using ChatNode.Diagnostics;
using ChatNode.Protocol;
using ChatNode.Protocol.Peer;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace ChatNode.Peering;

/// <summary>
/// The receiving end of peer streams: pushes each forwarded delivery to this node's connections of the named users
/// (the frame arrives serialized; protobuf clients get those very bytes). Answers every batch with an ack.
/// </summary>
internal sealed class PeerService : Peer.PeerBase
{
    private readonly PeerAuth _auth;
    private readonly DeliveryService _delivery;
    private readonly PeerMetrics _metrics;
    private readonly ILogger<PeerService> _logger;

    public PeerService(PeerAuth auth, DeliveryService delivery, PeerMetrics metrics, ILogger<PeerService> logger)
    {
        _auth = auth;
        _delivery = delivery;
        _metrics = metrics;
        _logger = logger;
    }

    public override async Task Deliver(IAsyncStreamReader<DeliveryBatch> requestStream, IServerStreamWriter<DeliveryBatchAck> responseStream, ServerCallContext context)
    {
        var node = context.RequestHeaders.GetValue(PeerAuth.NodeHeader);
        if (!_auth.Verify(node, context.RequestHeaders.GetValue(PeerAuth.AuthHeader)))
        {
            PeerLog.Refused(_logger, $"bad credentials from {context.Peer} claiming to be '{node}'");
            throw new RpcException(new Status(StatusCode.Unauthenticated, "peer credentials do not match the cluster secret"));
        }

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
                var bytes = delivery.Frame.ToByteArray();
                var frame = new OutboundFrame(ServerFrame.Parser.ParseFrom(bytes), delivery.DeliveryId, bytes);
                pushed += _delivery.PushToLocal(delivery.UserIds, new ClientAddress(delivery.ExcludeUserId, delivery.ExcludeClientId), frame, delivery.StoredAtUs);
            }

            _metrics.Received(batch.Deliveries.Count);
            await responseStream.WriteAsync(new DeliveryBatchAck { BatchId = batch.BatchId, Pushed = (uint)pushed }, context.CancellationToken).ConfigureAwait(false);
        }
    }
}
