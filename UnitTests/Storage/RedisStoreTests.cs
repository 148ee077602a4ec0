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

    [Test]
    public async Task Sliding_keys_live_at_least_their_ttl_after_each_write_but_are_extended_only_once_less_is_left()
    {
        var stores = Build(new Dictionary<string, string?> { ["Storage:Redis:MessageTtl"] = "1.00:00:00", ["Storage:Redis:MetadataTtl"] = "10.00:00:00" });
        var db = _providers[^1].GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>().GetDatabase();
        var (chatId, alice, bob) = (Guid.NewGuid().ToString("N")[..22], TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await stores.Chats.CreateChatAsync(chatId, "", alice, [alice, bob], CancellationToken.None);
        var inbox = new ClientAddress(bob, "phone");
        var (day, tenDays) = (TimeSpan.FromDays(1), TimeSpan.FromDays(10));

        async Task Send(string id)
        {
            var message = (await stores.Messages.AppendAsync(new MessageDraft(chatId, Guid.NewGuid().ToString("N"), alice, "phone", id, new byte[] { 1 }), CancellationToken.None)).Message!;
            await stores.Inbox.AddAsync([inbox], new InboxEntry(message.DeliveryId, message.SentAtUs), 100, CancellationToken.None);
        }

        async Task<(TimeSpan Meta, TimeSpan Inbox)> Ttls() =>
            ((await db.KeyTimeToLiveAsync(RedisKeys.ChatMeta(chatId)))!.Value, (await db.KeyTimeToLiveAsync(RedisKeys.Inbox(inbox)))!.Value);

        await Send("m1");
        var first = await Ttls();
        Assert.That(first.Meta, Is.GreaterThanOrEqualTo(tenDays).And.LessThanOrEqualTo(tenDays * 1.05), "the chat lives its TTL and at most 5 % more");
        Assert.That(first.Inbox, Is.GreaterThanOrEqualTo(day).And.LessThanOrEqualTo(day * 1.05), "the inbox too");

        // Less than the TTL left: the next write extends it again.
        await db.KeyExpireAsync(RedisKeys.ChatMeta(chatId), tenDays - TimeSpan.FromHours(1));
        await db.KeyExpireAsync(RedisKeys.Inbox(inbox), day - TimeSpan.FromMinutes(1));
        await Send("m2");
        var extended = await Ttls();
        Assert.That(extended.Meta, Is.GreaterThanOrEqualTo(tenDays), "extended once less than the TTL was left");
        Assert.That(extended.Inbox, Is.GreaterThanOrEqualTo(day));

        // More than the TTL left: the write leaves the expiry alone (no EXPIRE written and replicated per message).
        var marker = day + TimeSpan.FromMinutes(30);
        await db.KeyExpireAsync(RedisKeys.Inbox(inbox), marker);
        await Send("m3");
        Assert.That((await Ttls()).Inbox, Is.LessThanOrEqualTo(marker), "not extended while more than the TTL is left");
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
