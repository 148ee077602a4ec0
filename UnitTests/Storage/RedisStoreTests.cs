using ChatNode.Storage;
using ChatNode.Storage.Redis;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Storage;

/// <summary>The store contract against the real Redis Cluster started by scripts/services.sh.</summary>
[TestFixture]
public sealed class RedisStoreTests : StoreContractTests
{
    private readonly List<ServiceProvider> _providers = [];
    private StoreSet? _stores;

    protected override StoreSet Stores => _stores ??= Build(new Dictionary<string, string?>());

    protected override StoreSet WithMessageTtl(TimeSpan messageTtl, TimeSpan? ackTombstoneTtl = null) => Build(new Dictionary<string, string?>
    {
        ["Storage:Redis:MessageTtl"] = messageTtl.ToString(),
        ["Storage:Redis:AckTombstoneTtl"] = (ackTombstoneTtl ?? TimeSpan.FromMinutes(2)).ToString(),
    });

    protected override void Elapse(TimeSpan time)
    {
        // Real time: the polls wait for it.
    }

    [OneTimeTearDown]
    public async Task DisposeConnections()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }
    }

    private StoreSet Build(Dictionary<string, string?> settings)
    {
        settings["Storage:Redis:Endpoints"] = TestEnvironment.RedisEndpoints;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var provider = new ServiceCollection().AddLogging().AddRedisStorage(configuration).BuildServiceProvider();
        _providers.Add(provider);
        return new StoreSet(
            provider.GetRequiredService<IChatStore>(),
            provider.GetRequiredService<IMessageStore>(),
            provider.GetRequiredService<IInboxStore>(),
            provider.GetRequiredService<IClientStore>(),
            provider.GetRequiredService<IAttachmentStore>());
    }
}
