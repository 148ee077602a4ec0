using ChatNode.Storage.Memory;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ChatNode.UnitTests.Storage;

/// <summary>The store contract against the in-memory store, on a fake clock.</summary>
[TestFixture]
[Fast]
public sealed class InMemoryStoreTests : StoreContractTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private StoreSet? _stores;

    protected override StoreSet Stores => _stores ??= Of(new InMemoryStore(time: _clock));

    protected override StoreSet WithMessageTtl(TimeSpan messageTtl, TimeSpan? ackTombstoneTtl = null) =>
        Of(new InMemoryStore(new InMemoryStoreOptions { MessageTtl = messageTtl, AckTombstoneTtl = ackTombstoneTtl ?? TimeSpan.FromMinutes(2) }, _clock));

    protected override void Elapse(TimeSpan time) => _clock.Advance(time);

    private static StoreSet Of(InMemoryStore store) => new(store, store, store, store, store);
}
