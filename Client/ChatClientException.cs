using ChatNode.Protocol.V1;

namespace ChatNode.Client;

/// <summary>A request answered with an error frame.</summary>
public sealed class ChatErrorException(ErrorCode code, string message, bool outcomeUnknown = false) : Exception($"{code}: {message}")
{
    public ErrorCode Code { get; } = code;

    /// <summary>The node said the request may have been applied before it failed: retry it unchanged, never as a new one.</summary>
    public bool OutcomeUnknown { get; } = outcomeUnknown;

    /// <summary>Whether sending the same request again may succeed.</summary>
    public bool IsRetryable => Code is ErrorCode.Unavailable or ErrorCode.Internal or ErrorCode.RateLimited or ErrorCode.StoreFull || OutcomeUnknown;
}

/// <summary>
/// No result for a request: not connected, or the connection ended (or the result did not come in time) after the
/// request was sent. <see cref="RequestSent"/>: the request left the client, so it may have been applied.
/// </summary>
public sealed class ChatConnectionException(string message, Exception? inner = null, bool requestSent = false) : Exception(message, inner)
{
    public bool RequestSent { get; } = requestSent;
}
