using Microsoft.Extensions.Options;

namespace ChatNode.Storage.Redis;

/// <summary>Options of the Redis Cluster store (configuration section <c>Storage:Redis</c>).</summary>
public sealed class RedisStoreOptions
{
    public const string Section = "Storage:Redis";

    /// <summary>Comma-separated seed endpoints of the cluster (host:port). Any reachable node is enough.</summary>
    public string Endpoints { get; set; } = "127.0.0.1:7101";

    /// <summary>How long messages, chat events, dedupe records and inbox entries live. Default 30 days.</summary>
    public TimeSpan MessageTtl { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long chats, participant sets and client registrations live after their last use. Default 400 days.</summary>
    public TimeSpan MetadataTtl { get; set; } = TimeSpan.FromDays(400);

    /// <summary>
    /// Replicas that must acknowledge a write (Redis <c>WAIT</c> on each master written) before it counts as
    /// durable. 0 turns the wait off. Default 1.
    /// </summary>
    public int ReplicaAcks { get; set; } = 1;

    /// <summary>How long one <c>WAIT</c> may block. A write not acknowledged in time fails and is retried. Default 1 s.</summary>
    public TimeSpan ReplicaAckTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a failing operation is retried (failover, connection loss) before it is reported unavailable. Default 10 s.</summary>
    public TimeSpan RetryBudget { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long an acknowledged inbox entry is remembered, so that a fan-out retried meanwhile (after a lost replica
    /// acknowledgement, or a client's resend of a send whose outcome it did not learn) does not put it back. Default 2 min.
    /// </summary>
    public TimeSpan AckTombstoneTtl { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The most acknowledged entries remembered per client (the newest). Default 1,000.</summary>
    public int MaxAckTombstones { get; set; } = 1000;

    /// <summary>Per-command timeout of the client. Default 5 s.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often each master's memory and replicas are read for the shard metrics. Default 10 s; 0 turns it off.</summary>
    public TimeSpan ShardPollInterval { get; set; } = TimeSpan.FromSeconds(10);
}

internal sealed class RedisStoreOptionsValidator : IValidateOptions<RedisStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisStoreOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Endpoints))
        {
            failures.Add("Storage:Redis:Endpoints must name at least one host:port.");
        }

        if (options.MessageTtl < TimeSpan.FromSeconds(1))
        {
            failures.Add("Storage:Redis:MessageTtl must be at least 1 s.");
        }

        if (options.MetadataTtl < options.MessageTtl)
        {
            failures.Add("Storage:Redis:MetadataTtl must not be shorter than MessageTtl.");
        }

        if (options.ReplicaAcks is < 0 or > 5)
        {
            failures.Add("Storage:Redis:ReplicaAcks must be between 0 and 5.");
        }

        if (options.ReplicaAckTimeout < TimeSpan.FromMilliseconds(1))
        {
            failures.Add("Storage:Redis:ReplicaAckTimeout must be at least 1 ms (WAIT 0 would block forever).");
        }

        if (options.AckTombstoneTtl < TimeSpan.FromSeconds(1) || options.MaxAckTombstones < 1)
        {
            failures.Add("Storage:Redis:AckTombstoneTtl must be at least 1 s and MaxAckTombstones positive.");
        }

        if (options.RetryBudget < TimeSpan.Zero || options.CommandTimeout <= TimeSpan.Zero)
        {
            failures.Add("Storage:Redis:RetryBudget and CommandTimeout must be positive.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
