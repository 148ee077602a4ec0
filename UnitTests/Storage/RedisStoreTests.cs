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

    [Test]
    public async Task A_fan_out_costs_each_master_one_script_call_for_all_the_users_it_serves()
    {
        var stores = Stores;
        var connection = _providers[0].GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>();
        var users = Enumerable.Range(0, 30).Select(i => TestEnvironment.NewId($"fan{i}")).ToArray();
        foreach (var user in users)
        {
            await stores.Clients.RegisterAsync(new ClientAddress(user, "phone"), 3, DateTimeOffset.UtcNow.AddMinutes(-1), CancellationToken.None);
        }

        var masters = connection.GetServers().Where(s => !s.IsReplica && s.IsConnected).ToArray();
        async Task<long> ScriptCalls()
        {
            long calls = 0;
            foreach (var master in masters)
            {
                var stats = (await master.InfoAsync("commandstats")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
                foreach (var name in new[] { "cmdstat_eval", "cmdstat_evalsha" })
                {
                    if (stats.TryGetValue(name, out var value))
                    {
                        calls += long.Parse(value.Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }

            return calls;
        }

        var before = await ScriptCalls();
        var full = await stores.Inbox.AddToUsersAsync(users, new ClientAddress(users[0], "laptop"), new InboxEntry("m.c.1", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000), 10, CancellationToken.None);
        var calls = await ScriptCalls() - before;
        Assert.That(full, Is.Empty);
        Assert.That(calls, Is.InRange(1, masters.Length), $"30 users over {masters.Length} masters: one call each, not one per user");
        foreach (var user in users)
        {
            Assert.That((await stores.Inbox.ReadAsync(new ClientAddress(user, "phone"), 0, 10, CancellationToken.None)).Select(e => e.DeliveryId), Is.EqualTo(new[] { "m.c.1" }));
        }
    }

    [Test]
    public async Task A_grouped_fan_out_sent_to_a_master_that_does_not_serve_its_users_falls_back_to_one_call_per_user()
    {
        var stores = Stores;
        var services = _providers[0];
        var real = services.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>();
        var users = Enumerable.Range(0, 12).Select(i => TestEnvironment.NewId($"moved{i}")).ToArray();
        foreach (var user in users)
        {
            await stores.Clients.RegisterAsync(new ClientAddress(user, "phone"), 3, DateTimeOffset.UtcNow.AddMinutes(-1), CancellationToken.None);
        }

        // A map gone stale: every user's slot is taken for the first user's master, so the grouped call reaches a
        // master that serves only some of them.
        var misrouted = MisroutingMultiplexer.Create(real, users[0]);
        var options = Microsoft.Extensions.Options.Options.Create(new RedisStoreOptions { Endpoints = TestEnvironment.RedisEndpoints });
        var inbox = new RedisInboxStore(misrouted, services.GetRequiredService<RedisRetry>(), services.GetRequiredService<ReplicaAcknowledger>(), options, TimeProvider.System);
        var full = await inbox.AddToUsersAsync(users, new ClientAddress(users[0], "laptop"), new InboxEntry("m.c.1", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000), 10, CancellationToken.None);

        Assert.That(full, Is.Empty);
        foreach (var user in users)
        {
            Assert.That((await stores.Inbox.ReadAsync(new ClientAddress(user, "phone"), 0, 10, CancellationToken.None)).Select(e => e.DeliveryId), Is.EqualTo(new[] { "m.c.1" }), user);
        }
    }

    /// <summary>A multiplexer that answers every key's master with one user's master, and forwards everything else.</summary>
    public class MisroutingMultiplexer : System.Reflection.DispatchProxy
    {
        private StackExchange.Redis.IConnectionMultiplexer _real = null!;
        private StackExchange.Redis.RedisKey _key;

        public static StackExchange.Redis.IConnectionMultiplexer Create(StackExchange.Redis.IConnectionMultiplexer real, string userId)
        {
            var proxy = Create<StackExchange.Redis.IConnectionMultiplexer, MisroutingMultiplexer>();
            var self = (MisroutingMultiplexer)(object)proxy;
            (self._real, self._key) = (real, RedisKeys.UserClients(userId));
            return proxy;
        }

        protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod!.Name == nameof(StackExchange.Redis.IConnectionMultiplexer.GetServer) && args is [StackExchange.Redis.RedisKey, ..])
            {
                args[0] = _key;
            }

            return targetMethod.Invoke(_real, args);
        }
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
