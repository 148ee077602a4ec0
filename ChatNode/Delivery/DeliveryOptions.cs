using Microsoft.Extensions.Options;

namespace ChatNode.Delivery;

/// <summary>Redelivery, resync and replay settings (configuration section <c>Node</c>).</summary>
public sealed class DeliveryOptions
{
    public const string Section = "Node";

    /// <summary>An unacknowledged push is pushed again after this long. Default 30 s.</summary>
    public TimeSpan RedeliveryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the redelivery sweep runs. Default 5 s.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often each connection's inbox is checked for entries whose live push was lost. Default 60 s.</summary>
    public TimeSpan InboxResyncInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Inbox entries read per page when replaying an inbox. Default 256.</summary>
    public int ReplayPageSize { get; set; } = 256;

    /// <summary>
    /// The most unacknowledged entries one client's inbox holds. A client whose inbox is full when another item comes
    /// (a device that stopped connecting) is deactivated: its inbox is deleted, its tokens stop working, and its user
    /// signs it in again. Bounds what is stored for users who never connect. Default 10,000.
    /// </summary>
    public int MaxInboxEntries { get; set; } = 10_000;
}

internal sealed class DeliveryOptionsValidator : IValidateOptions<DeliveryOptions>
{
    public ValidateOptionsResult Validate(string? name, DeliveryOptions o) =>
        o.RedeliveryTimeout > TimeSpan.Zero && o.SweepInterval > TimeSpan.Zero && o.InboxResyncInterval > TimeSpan.Zero && o.ReplayPageSize >= 1 && o.MaxInboxEntries >= 1
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("Node:RedeliveryTimeout, SweepInterval, InboxResyncInterval, ReplayPageSize and MaxInboxEntries must be positive.");
}
