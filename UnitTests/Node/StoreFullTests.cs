using System.Globalization;
using ChatNode.Client;
using ChatNode.Protocol.V1;
using ChatNode.UnitTests.Infrastructure;
using StackExchange.Redis;

namespace ChatNode.UnitTests.Node;

/// <summary>
/// The real Redis Cluster at its memory limit (<c>maxmemory</c> below what it holds, <c>noeviction</c>): new data is
/// refused with STORE_FULL and nothing is half-stored, while reads, acks and the connects of registered clients go on and
/// the node stays up. Runs alone: it lowers every master's limit, and restores it.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class StoreFullTests
{
    [Test]
    public async Task At_its_memory_limit_the_store_refuses_new_messages_clearly_and_keeps_serving_reads_and_acks()
    {
        await RedisCluster.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["Storage:Redis:RetryBudget"] = "00:00:02" });
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await node.ConnectAsync(alice, "phone", configure: o => o.SendRetryBudget = TimeSpan.FromSeconds(2));
        var b = await node.ConnectAsync(bob, "phone", configure: o => o.AutoAck = false);
        var chat = await a.CreateChatAsync([bob]);
        await a.SendMessageAsync(chat.ChatId, "before");
        var before = (await ChatAssert.ReceiveAsync(b.Messages, 1, "the message sent before the limit")).Single();
        var created = (await ChatAssert.ReceiveAsync(b.ChatUpdates, 1, "the chat's creation")).Single();

        await using var redis = await RedisCluster.ConnectAdminAsync();
        var masters = await RedisCluster.MastersAsync(redis);
        var limits = new Dictionary<IServer, string>();
        foreach (var master in masters)
        {
            limits[master] = (await master.ConfigGetAsync("maxmemory")).Single().Value;
        }

        try
        {
            foreach (var master in masters)
            {
                await master.ConfigSetAsync("maxmemory", "1");
            }

            var frame = new ClientFrame { SendMessage = new SendMessage { ChatId = chat.ChatId, Text = "refused", ClientMessageId = "c-full" } };
            var error = Assert.ThrowsAsync<ChatErrorException>(() => a.RequestAsync(frame));
            Assert.That((error!.Code, error.OutcomeUnknown), Is.EqualTo((ErrorCode.StoreFull, false)), "refused before anything was written");
            Assert.ThrowsAsync<ChatConnectionException>(() => a.SendMessageAsync(chat.ChatId, "refused too"), "the client gives up: never applied");

            Assert.That((await a.ListChatsAsync()).Select(c => c.ChatId), Does.Contain(chat.ChatId), "reads work");
            Assert.That(await b.AckAsync([before.DeliveryId, created.DeliveryId]), Is.EqualTo(2), "acks work");

            // A registered client reconnects (and replays its inbox) as usual.
            await b.DisposeAsync();
            b = await node.ConnectAsync(bob, "phone", configure: o => o.AutoAck = false);
            Assert.That(await b.InboxReplayed, Is.Zero, "the acknowledged entries are gone from the inbox");
            Assert.That((await new HttpClient().GetAsync(new Uri(node.BaseUrl, "/healthz"))).IsSuccessStatusCode, Is.True, "the node is up");
        }
        finally
        {
            foreach (var (master, limit) in limits)
            {
                await master.ConfigSetAsync("maxmemory", limit);
            }
        }

        var after = await a.SendMessageAsync(chat.ChatId, "after");
        var received = await ChatAssert.ReceiveAsync(b.Messages, 1, "the message sent once there is room");
        Assert.That(received.Select(m => m.MessageId), Is.EqualTo(new[] { after.MessageId }), "nothing refused was delivered");
        await b.DisposeAsync();
        Assert.That(int.Parse(limits.Values.First(), CultureInfo.InvariantCulture), Is.GreaterThan(0), "the cluster runs with a memory limit (scripts/services.sh)");
    }
}
