using System.Text;
using ChatNode.Protocol.V1;
using Google.Protobuf;

namespace ChatNode.Protocol;

/// <summary>
/// What both ends of chat.v1 must agree on beyond the schema: the WebSocket subprotocol names and the JSON mapping's
/// parser and formatter settings. The node and every client built on this assembly use these, so they cannot drift.
/// Stateless and thread-safe.
/// </summary>
public static class ChatProtocol
{
    /// <summary>Binary frames, one protobuf message per frame.</summary>
    public const string ProtoSubprotocol = "chat.v1+proto";

    /// <summary>Text frames, the protobuf JSON mapping of the same messages.</summary>
    public const string JsonSubprotocol = "chat.v1+json";

    /// <summary>Unknown fields are ignored, so a newer peer's frames still parse (docs/protocol.md, JSON mapping).</summary>
    public static JsonParser JsonParser { get; } = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    /// <summary>Default values are left out, as protobuf's JSON mapping specifies.</summary>
    public static JsonFormatter JsonFormatter { get; } = new(JsonFormatter.Settings.Default);

    public static byte[] ToJsonBytes(IMessage message) => Encoding.UTF8.GetBytes(JsonFormatter.Format(message));

    public static ServerFrame ParseServerFrameJson(ReadOnlySpan<byte> utf8) => JsonParser.Parse<ServerFrame>(Encoding.UTF8.GetString(utf8));

    public static ClientFrame ParseClientFrameJson(ReadOnlySpan<byte> utf8) => JsonParser.Parse<ClientFrame>(Encoding.UTF8.GetString(utf8));
}
