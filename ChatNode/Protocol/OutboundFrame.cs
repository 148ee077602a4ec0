using ChatNode.Protocol.V1;

namespace ChatNode.Protocol;

/// <summary>
/// A server frame on its way to one or many connections. Each encoding is serialized at most once, however many
/// connections it fans out to; the bytes are immutable and shared.
/// </summary>
public sealed class OutboundFrame
{
    private ServerFrame? _frame;
    private byte[]? _proto;
    private byte[]? _json;

    /// <param name="protoBytes">The frame already serialized as protobuf, if at hand.</param>
    public OutboundFrame(ServerFrame frame, string? deliveryId = null, byte[]? protoBytes = null)
    {
        _frame = frame;
        DeliveryId = deliveryId;
        _proto = protoBytes;
    }

    // A frame known only by its protobuf bytes, parsed only if a JSON connection needs it.
    private OutboundFrame(byte[] protoBytes, string? deliveryId)
    {
        _proto = protoBytes;
        DeliveryId = deliveryId;
    }

    /// <summary>
    /// A frame that arrived serialized (forwarded by a peer): protobuf connections get these very bytes, and it is
    /// parsed the first time a JSON connection needs it (<see cref="Bytes"/> then throws if the bytes are not a frame).
    /// </summary>
    public static OutboundFrame FromProto(byte[] protoBytes, string? deliveryId) => new(protoBytes, deliveryId);

    /// <summary>The delivery id of a push that must be acknowledged; null for results and other frames.</summary>
    public string? DeliveryId { get; }

    // Two threads may both serialize (or parse) once; they produce identical results, so the race is harmless.
    public byte[] Bytes(FrameEncoding encoding) => encoding == FrameEncoding.Proto
        ? _proto ??= FrameCodec.Encode(_frame!, FrameEncoding.Proto)
        : _json ??= FrameCodec.Encode(_frame ??= ServerFrame.Parser.ParseFrom(_proto), FrameEncoding.Json);
}
