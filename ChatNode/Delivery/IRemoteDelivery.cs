using ChatNode.Registry.Ring;
using ChatNode.Storage;

namespace ChatNode.Delivery;

/// <summary>
/// One live push for users another node owns: the push frame already serialized as protobuf (the receiving node
/// passes those bytes through to its protobuf clients), the users, and the client that caused it (which gets its
/// request result instead), the ring epoch the push was routed by (the receiver fences by it), and the W3C traceparent
/// of the send when it is traced.
/// </summary>
public sealed record RemotePush(
    IReadOnlyList<string> UserIds, ClientAddress Sender, ReadOnlyMemory<byte> ProtoFrame, string DeliveryId, long StoredAtUs, long Epoch, string? TraceParent = null);

/// <summary>
/// How a live push leaves this node for the node that owns its users. Best effort: the store already holds every
/// delivery in the recipients' inboxes, so a push that cannot be forwarded is delivered by replay or resync.
/// Implemented by the peer streams (<c>Peering/</c>). Thread-safe; never blocks the caller on the network.
/// </summary>
public interface IRemoteDelivery
{
    /// <summary>Queues <paramref name="push"/> for <paramref name="owner"/>; false when it was not queued (no stream, queue full).</summary>
    bool Forward(NodeInfo owner, RemotePush push);
}
