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
}

internal sealed class PeerOptionsValidator : IValidateOptions<PeerOptions>
{
    public ValidateOptionsResult Validate(string? name, PeerOptions o) =>
        o.PeerQueueCapacity >= 1 && o.PeerBatchSize >= 1
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("Node:PeerQueueCapacity and PeerBatchSize must be positive.");
}
