using Microsoft.Extensions.Options;

namespace ChatNode.Hosting;

/// <summary>Options of a chat node (configuration section <c>Node</c>). Defaults suit a production node.</summary>
public sealed class ChatNodeOptions
{
    public const string Section = "Node";

    /// <summary>This node's id; defaults to the machine name plus the process id.</summary>
    public string NodeId { get; set; } = "";

    /// <summary>The HTTP/WebSocket listen URL. Port 0 picks a free port (tests).</summary>
    public string Listen { get; set; } = "http://127.0.0.1:8080";

    /// <summary>The HTTP/2 listen URL of the node-to-node gRPC service. Port 0 picks a free port (tests).</summary>
    public string PeerListen { get; set; } = "http://127.0.0.1:9080";

    /// <summary>The WebSocket URL other nodes redirect clients to; default: derived from <see cref="Listen"/>.</summary>
    public string PublicUrl { get; set; } = "";

    /// <summary>The gRPC URL other nodes open peer streams to; default: <see cref="PeerListen"/>.</summary>
    public string PeerPublicUrl { get; set; } = "";

    /// <summary>Deliveries queued for one peer before new ones are dropped (they stay in the inboxes). Default 10,000.</summary>
    public int PeerQueueCapacity { get; set; } = 10_000;

    /// <summary>Deliveries sent to a peer in one batch at most. Default 256.</summary>
    public int PeerBatchSize { get; set; } = 256;

    /// <summary>Participants a chat may have, creator included. Default 100.</summary>
    public int MaxParticipants { get; set; } = 100;

    /// <summary>Clients (devices) a user may have registered at once. Default 3.</summary>
    public int MaxClientsPerUser { get; set; } = 3;

    /// <summary>Largest frame a client may send, in bytes; larger frames close the connection with 4103. Default 64 KiB.</summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>Largest message text, in UTF-8 bytes. Default 16 KiB.</summary>
    public int MaxTextBytes { get; set; } = 16 * 1024;

    /// <summary>Largest chat name, in characters. Default 128.</summary>
    public int MaxChatNameLength { get; set; } = 128;

    /// <summary>Delivery ids one ack may carry. Default 1,000.</summary>
    public int MaxAckBatch { get; set; } = 1000;

    /// <summary>Bytes a connection may have queued for sending before it is closed as a slow consumer (4001). Default 1 MiB.</summary>
    public int OutboundBudgetBytes { get; set; } = 1024 * 1024;

    /// <summary>Pushes a connection may leave unacknowledged before it is closed as a slow consumer (4001). Default 5,000.</summary>
    public int MaxUnackedPushes { get; set; } = 5000;

    /// <summary>Sustained requests per second per connection. Default 100.</summary>
    public int RequestsPerSecond { get; set; } = 100;

    /// <summary>Requests a connection may send in a burst above the sustained rate. Default 200.</summary>
    public int RequestBurst { get; set; } = 200;

    /// <summary>Requests of one connection processed concurrently; further frames wait in the socket. Default 32.</summary>
    public int MaxInFlightRequests { get; set; } = 32;

    /// <summary>An unacknowledged push is pushed again after this long. Default 30 s.</summary>
    public TimeSpan RedeliveryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the redelivery sweep runs. Default 5 s.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often each connection's inbox is checked for entries whose live push was lost. Default 60 s.</summary>
    public TimeSpan InboxResyncInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Inbox entries read per page when replaying an inbox. Default 256.</summary>
    public int ReplayPageSize { get; set; } = 256;

    /// <summary>WebSocket ping interval. Default 20 s.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>A connection whose pong does not arrive within this time after a ping is closed. Default 20 s.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long stopping waits for connections to flush and close. Default 10 s.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

internal sealed class ChatNodeOptionsDefaults : IPostConfigureOptions<ChatNodeOptions>
{
    public void PostConfigure(string? name, ChatNodeOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.NodeId))
        {
            options.NodeId = $"{Environment.MachineName}-{Environment.ProcessId}".ToLowerInvariant();
        }
    }
}

internal sealed class ChatNodeOptionsValidator : IValidateOptions<ChatNodeOptions>
{
    public ValidateOptionsResult Validate(string? name, ChatNodeOptions o)
    {
        var failures = new List<string>();
        void Require(bool ok, string message)
        {
            if (!ok)
            {
                failures.Add(message);
            }
        }

        Require(Uri.TryCreate(o.Listen, UriKind.Absolute, out _), "Node:Listen must be an absolute URL such as http://127.0.0.1:8080.");
        Require(Uri.TryCreate(o.PeerListen, UriKind.Absolute, out _), "Node:PeerListen must be an absolute URL such as http://127.0.0.1:9080.");
        Require(o.PeerQueueCapacity >= 1 && o.PeerBatchSize >= 1, "Node:PeerQueueCapacity and PeerBatchSize must be positive.");
        Require(o.MaxParticipants is >= 2 and <= 10_000, "Node:MaxParticipants must be between 2 and 10000.");
        Require(o.MaxClientsPerUser is >= 1 and <= 100, "Node:MaxClientsPerUser must be between 1 and 100.");
        Require(o.MaxFrameBytes is >= 1024 and <= 16 * 1024 * 1024, "Node:MaxFrameBytes must be between 1 KiB and 16 MiB.");
        Require(o.MaxTextBytes > 0 && o.MaxTextBytes < o.MaxFrameBytes, "Node:MaxTextBytes must be positive and below MaxFrameBytes.");
        Require(o.OutboundBudgetBytes >= o.MaxFrameBytes, "Node:OutboundBudgetBytes must be at least MaxFrameBytes.");
        Require(o.RequestsPerSecond > 0 && o.RequestBurst > 0, "Node:RequestsPerSecond and RequestBurst must be positive.");
        Require(o.MaxInFlightRequests is >= 1 and <= 1024, "Node:MaxInFlightRequests must be between 1 and 1024.");
        Require(o.MaxAckBatch >= 1 && o.MaxUnackedPushes >= 1 && o.ReplayPageSize >= 1, "Node:MaxAckBatch, MaxUnackedPushes and ReplayPageSize must be positive.");
        Require(o.RedeliveryTimeout > TimeSpan.Zero && o.SweepInterval > TimeSpan.Zero && o.InboxResyncInterval > TimeSpan.Zero,
            "Node:RedeliveryTimeout, SweepInterval and InboxResyncInterval must be positive.");
        Require(o.KeepAliveInterval > TimeSpan.Zero && o.KeepAliveTimeout > TimeSpan.Zero, "Node:KeepAliveInterval and KeepAliveTimeout must be positive.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
