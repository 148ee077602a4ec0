using ChatNode.Protocol.V1;

namespace ChatNode.Client;

/// <summary>A request answered with an error frame.</summary>
public sealed class ChatErrorException(ErrorCode code, string message) : Exception($"{code}: {message}")
{
    public ErrorCode Code { get; } = code;

    /// <summary>Whether sending the same request again may succeed.</summary>
    public bool IsRetryable => Code is ErrorCode.Unavailable or ErrorCode.Internal or ErrorCode.RateLimited;
}

/// <summary>The connection ended before a request got its result; the request may or may not have been applied.</summary>
public sealed class ChatConnectionException(string message, Exception? inner = null) : Exception(message, inner);
