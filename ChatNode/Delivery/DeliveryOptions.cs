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
}

internal sealed class DeliveryOptionsValidator : IValidateOptions<DeliveryOptions>
{
    public ValidateOptionsResult Validate(string? name, DeliveryOptions o) =>
        o.RedeliveryTimeout > TimeSpan.Zero && o.SweepInterval > TimeSpan.Zero && o.InboxResyncInterval > TimeSpan.Zero && o.ReplayPageSize >= 1
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("Node:RedeliveryTimeout, SweepInterval, InboxResyncInterval and ReplayPageSize must be positive.");
}
