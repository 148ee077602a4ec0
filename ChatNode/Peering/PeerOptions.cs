using Microsoft.Extensions.Options;

namespace ChatNode.Peering;

/// <summary>Peer stream settings (configuration section <c>Node</c>).</summary>
public sealed class PeerOptions
{
    public const string Section = "Node";

    /// <summary>Deliveries queued for one peer before new ones are dropped (they stay in the inboxes). Default 10,000.</summary>
    public int PeerQueueCapacity { get; set; } = 10_000;

    /// <summary>Deliveries sent to a peer in one batch at most. Default 256.</summary>
    public int PeerBatchSize { get; set; } = 256;

    /// <summary>
    /// How often a receiving node acknowledges a peer stream's batches at most (the first at once, the rest left over
    /// when the stream completes); acks are informational. 0 acks every batch. Default 1 s.
    /// </summary>
    public TimeSpan PeerAckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a peer call from a node not in this node's ring view waits for the ring to list it (a node that just
    /// registered) before it is refused. Default 3 s.
    /// </summary>
    public TimeSpan PeerMembershipWait { get; set; } = TimeSpan.FromSeconds(3);
}

internal sealed class PeerOptionsValidator : IValidateOptions<PeerOptions>
{
    public ValidateOptionsResult Validate(string? name, PeerOptions o) =>
        o.PeerQueueCapacity >= 1 && o.PeerBatchSize >= 1 && o.PeerMembershipWait > TimeSpan.Zero && o.PeerAckInterval >= TimeSpan.Zero
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("Node:PeerQueueCapacity, PeerBatchSize and PeerMembershipWait must be positive, PeerAckInterval 0 or more.");
}
