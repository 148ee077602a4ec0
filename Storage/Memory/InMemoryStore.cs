namespace ChatNode.Storage.Memory;

/// <summary>Options of the in-memory store: the same lifetimes as the Redis store's.</summary>
public sealed class InMemoryStoreOptions
{
    /// <summary>How long messages, chat events, dedupe records and inbox entries live. Default 30 days.</summary>
    public TimeSpan MessageTtl { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long chats, participant sets, chat indexes and client registrations live after their last write. Default 400 days.</summary>
    public TimeSpan MetadataTtl { get; set; } = TimeSpan.FromDays(400);

    /// <summary>How long an acknowledged inbox entry is remembered (a repeated add does not bring it back). Default 2 min.</summary>
    public TimeSpan AckTombstoneTtl { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The most acknowledged entries remembered per client. Default 1,000.</summary>
    public int MaxAckTombstones { get; set; } = 1000;
}

/// <summary>
/// Every storage contract in the memory of one process, for the fast test tier and for fleets of in-process nodes that
/// share one instance. It passes the same contract tests as the Redis Cluster store (<c>UnitTests/Storage</c>): the same
/// atomicity per chat and per user, idempotency, ordering and TTLs, with time read from the <see cref="TimeProvider"/>
/// given (a fake clock in tests), expiry applied when an item is read. Nothing survives the process. Thread-safe: one
/// lock serializes every operation, so each is atomic.
/// </summary>
public sealed partial class InMemoryStore : IChatStore, IMessageStore, IInboxStore, IClientStore, IAttachmentStore, IStoreHealth
{
    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly InMemoryStoreOptions _options;

    public InMemoryStore(InMemoryStoreOptions? options = null, TimeProvider? time = null)
    {
        _options = options ?? new InMemoryStoreOptions();
        _time = time ?? TimeProvider.System;
    }

    public Task<(bool Ready, string Reason)> CheckAsync(CancellationToken cancellationToken) => Task.FromResult((true, "in-memory store"));

    private DateTimeOffset Now => _time.GetUtcNow();

    private DateTimeOffset MessageExpiry => Now + _options.MessageTtl;

    private DateTimeOffset MetadataExpiry => Now + _options.MetadataTtl;

    private static long ToUs(DateTimeOffset time) => time.ToUnixTimeMilliseconds() * 1000 + (time.Ticks % TimeSpan.TicksPerMillisecond / 10);

    /// <summary>A value that disappears at <see cref="ExpiresAt"/>.</summary>
    private sealed class Expiring<T>(T value, DateTimeOffset expiresAt)
    {
        public T Value { get; set; } = value;

        public DateTimeOffset ExpiresAt { get; set; } = expiresAt;
    }

    // Caller holds _gate. The live value under `key`, dropping it if it expired.
    private T? Live<TKey, T>(Dictionary<TKey, Expiring<T>> map, TKey key)
        where TKey : notnull
        where T : class
    {
        if (!map.TryGetValue(key, out var entry))
        {
            return null;
        }

        if (entry.ExpiresAt > Now)
        {
            return entry.Value;
        }

        map.Remove(key);
        return null;
    }
}
