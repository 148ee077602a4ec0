namespace ChatNode.Client;

/// <summary>The two encodings of chat.v1.</summary>
public enum ChatEncoding
{
    Proto,
    Json,
}

/// <summary>
/// A change of a client's connection: welcomed by a node (<see cref="NodeId"/> set, <see cref="Redirects"/> followed to
/// get there) or ended (<see cref="Close"/> set). <see cref="At"/> is the client's clock.
/// </summary>
public sealed record ConnectionEvent(DateTimeOffset At, string? NodeId, Uri? Url, CloseInfo? Close, int Redirects);

/// <summary>Options of a <see cref="ChatClient"/>.</summary>
public sealed class ChatClientOptions
{
    /// <summary>A node's WebSocket URL, e.g. <c>ws://127.0.0.1:8080/ws</c>: any node of the fleet. The first seed.</summary>
    public Uri? Url { get; set; }

    /// <summary>
    /// More nodes to try when the ones before do not answer (several entry points of one fleet). Every backoff step tries
    /// the node that served the client last, then <see cref="Url"/>, then these, in order, until one answers.
    /// </summary>
    public IReadOnlyList<Uri> Seeds { get; set; } = [];

    /// <summary>Returns a valid token; called on every (re)connect so tokens can be refreshed.</summary>
    public required Func<CancellationToken, ValueTask<string>> TokenProvider { get; set; }

    public ChatEncoding Encoding { get; set; } = ChatEncoding.Proto;

    /// <summary>Acknowledge pushes automatically once they are handed to the application. Default true.</summary>
    public bool AutoAck { get; set; } = true;

    /// <summary>How long acknowledgements are gathered before one ack frame carries them all. Default 20 ms.</summary>
    public TimeSpan AckDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Reconnect with jittered exponential backoff after a connection is lost or closed with a reconnect code. Default true.</summary>
    public bool AutoReconnect { get; set; } = true;

    /// <summary>The first reconnect delay; each failed round doubles it (with jitter) up to <see cref="ReconnectMaxDelay"/>. Default 100 ms.</summary>
    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the client sends a WebSocket keep-alive (an unsolicited pong) of its own. Default 20 s, the node's
    /// default <c>Node:KeepAliveInterval</c>, so that the node need not ping an idle client. <see cref="TimeSpan.Zero"/>
    /// sends none: the client then only answers the node's pings.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a request waits for its result before it counts as lost. Default 15 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long <c>ChatClient.SendMessageAsync</c> keeps retrying (same client message id) before it returns: a send
    /// that may have been stored then stays in the outbox and is retried in the background. Default 60 s.
    /// </summary>
    public TimeSpan SendRetryBudget { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Where sends are kept until the node settled them. Default: in memory (<see cref="MemorySendOutbox"/>); back it
    /// with the app's storage so that sends pending when the app stopped are settled by the next client, with their ids.
    /// </summary>
    public ISendOutbox? Outbox { get; set; }

    /// <summary>How often kept sends are retried while the client stays connected (they are also retried on every connect). Default 30 s.</summary>
    public TimeSpan OutboxRetryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Called when a send that <c>SendMessageAsync</c> left pending (or one loaded from the outbox) settles: stored
    /// (<see cref="SettledSend.Result"/>) or refused (<see cref="SettledSend.Error"/>). Called on a background task.
    /// </summary>
    public Action<SettledSend>? OnSendSettled { get; set; }

    /// <summary>Redirects followed for one connect before giving up. Default 5.</summary>
    public int MaxRedirects { get; set; } = 5;

    /// <summary>
    /// What the application has been handed, to drop repeats. Default: a new in-memory <see cref="SeqDedupe"/> per
    /// client. Pass one that outlives the client (or is backed by the app's storage) to keep "exactly once" across
    /// reconnecting with a new client and across restarts.
    /// </summary>
    public IMessageDedupe? Dedupe { get; set; }

    /// <summary>
    /// Called on the client's receive loop when a node welcomed the client and when its connection ended, for an app's
    /// connection indicator (and the load tool's measurements). Must return quickly and not throw.
    /// </summary>
    public Action<ConnectionEvent>? OnConnectionChanged { get; set; }

    /// <summary>The clock for delays and timeouts. Default: the system's.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The seeds in the order they are tried: <see cref="Url"/>, then <see cref="Seeds"/>, without repeats.</summary>
    internal IReadOnlyList<Uri> AllSeeds() => [.. (Url is null ? Seeds : Seeds.Prepend(Url)).Distinct()];
}
