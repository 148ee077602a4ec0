namespace ChatNode.Client;

/// <summary>The two encodings of chat.v1.</summary>
public enum ChatEncoding
{
    Proto,
    Json,
}

/// <summary>Options of a <see cref="ChatClient"/>.</summary>
public sealed class ChatClientOptions
{
    /// <summary>The node's WebSocket URL, e.g. <c>ws://127.0.0.1:8080/ws</c>. Any node of the fleet.</summary>
    public required Uri Url { get; set; }

    /// <summary>Returns a valid token; called on every (re)connect so tokens can be refreshed.</summary>
    public required Func<CancellationToken, ValueTask<string>> TokenProvider { get; set; }

    public ChatEncoding Encoding { get; set; } = ChatEncoding.Proto;

    /// <summary>Acknowledge pushes automatically once they are handed to the application. Default true.</summary>
    public bool AutoAck { get; set; } = true;

    /// <summary>How long acknowledgements are gathered before one ack frame carries them all. Default 20 ms.</summary>
    public TimeSpan AckDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Reconnect with jittered exponential backoff after a connection is lost or closed with a reconnect code. Default true.</summary>
    public bool AutoReconnect { get; set; } = true;

    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a request waits for its result before it counts as lost. Default 15 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long <c>ChatClient.SendMessageAsync</c> keeps retrying (same client message id) before giving up. Default 60 s.</summary>
    public TimeSpan SendRetryBudget { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Redirects followed for one connect before giving up. Default 5.</summary>
    public int MaxRedirects { get; set; } = 5;

    /// <summary>Message ids remembered for de-duplication. Default 100,000.</summary>
    public int DedupeCapacity { get; set; } = 100_000;
}
