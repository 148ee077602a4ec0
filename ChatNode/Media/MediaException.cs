using ChatNode.Protocol.V1;

namespace ChatNode.Media;

/// <summary>A media request refused with a protocol error code; the message is shown to the client.</summary>
public sealed class MediaException(ErrorCode code, string message) : Exception(message)
{
    public ErrorCode Code { get; } = code;
}
