using ChatNode.Protocol.V1;

namespace ChatNode.Protocol;

/// <summary>
/// A server frame on its way to one or many connections. Each encoding is serialized at most once, however many
/// connections it fans out to; the bytes are immutable and shared.
/// </summary>
public sealed class OutboundFrame
{
    private readonly ServerFrame _frame;
    private byte[]? _proto;
    private byte[]? _json;

    /// <param name="protoBytes">The frame already serialized as protobuf (forwarded by a peer), if at hand.</param>
    public OutboundFrame(ServerFrame frame, string? deliveryId = null, byte[]? protoBytes = null)
    {
        _frame = frame;
        DeliveryId = deliveryId;
        _proto = protoBytes;
    }

    /// <summary>The delivery id of a push that must be acknowledged; null for results and other frames.</summary>
    public string? DeliveryId { get; }

    // Two threads may both serialize once; they produce identical bytes, so the race is harmless.
    public byte[] Bytes(FrameEncoding encoding) => encoding == FrameEncoding.Proto
        ? _proto ??= FrameCodec.Encode(_frame, FrameEncoding.Proto)
        : _json ??= FrameCodec.Encode(_frame, FrameEncoding.Json);
}
