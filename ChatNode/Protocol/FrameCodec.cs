using System.Net.WebSockets;
using System.Text;
using ChatNode.Protocol.V1;
using Google.Protobuf;

namespace ChatNode.Protocol;

/// <summary>The two encodings of chat.v1, chosen per connection by WebSocket subprotocol.</summary>
public enum FrameEncoding
{
    Proto,
    Json,
}

/// <summary>Encodes and decodes frames. Stateless and thread-safe.</summary>
public static class FrameCodec
{
    public static bool TryGetEncoding(IEnumerable<string> requestedSubprotocols, out FrameEncoding encoding, out string subprotocol)
    {
        foreach (var requested in requestedSubprotocols)
        {
            if (string.Equals(requested, ChatProtocol.ProtoSubprotocol, StringComparison.Ordinal))
            {
                (encoding, subprotocol) = (FrameEncoding.Proto, ChatProtocol.ProtoSubprotocol);
                return true;
            }

            if (string.Equals(requested, ChatProtocol.JsonSubprotocol, StringComparison.Ordinal))
            {
                (encoding, subprotocol) = (FrameEncoding.Json, ChatProtocol.JsonSubprotocol);
                return true;
            }
        }

        (encoding, subprotocol) = (FrameEncoding.Proto, "");
        return false;
    }

    public static WebSocketMessageType MessageType(FrameEncoding encoding) =>
        encoding == FrameEncoding.Proto ? WebSocketMessageType.Binary : WebSocketMessageType.Text;

    public static byte[] Encode(ServerFrame frame, FrameEncoding encoding) =>
        encoding == FrameEncoding.Proto ? frame.ToByteArray() : ChatProtocol.ToJsonBytes(frame);

    /// <summary>Decodes a client frame; false with a reason for anything malformed.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, FrameEncoding encoding, out ClientFrame frame, out string error)
    {
        try
        {
            frame = encoding == FrameEncoding.Proto ? ClientFrame.Parser.ParseFrom(payload) : ChatProtocol.ParseClientFrameJson(payload);
            error = "";
            return true;
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException or DecoderFallbackException)
        {
            frame = new ClientFrame();
            error = ex.Message;
            return false;
        }
    }
}
