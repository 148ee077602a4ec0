using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

[TestFixture(StoreBackend.Redis)]
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
public sealed class OfflineInboxTests(StoreBackend backend) : NodeFixture(backend)
{
    [Test]
    public async Task An_offline_recipient_gets_all_50_messages_in_order_and_nothing_again_after_acking()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        string chatId;
        await using (var firstVisit = await Node.ConnectAsync(bob, "phone"))
        {
            // Bob's client is registered by this first connect; he then goes offline.
        }

        await using var a = await Node.ConnectAsync(alice, "phone");
        chatId = (await a.CreateChatAsync([bob])).ChatId;
        var sent = new List<ulong>();
        for (var i = 0; i < 50; i++)
        {
            sent.Add((await a.SendMessageAsync(chatId, $"m{i}")).Seq);
        }

        await using (var b = await Node.ConnectAsync(bob, "phone"))
        {
            var update = await ChatAssert.ReceiveAsync(b.ChatUpdates, 1, "the stored chat creation");
            var messages = await ChatAssert.ReceiveAsync(b.Messages, 50, "50 stored messages");
            Assert.That(messages.Select(m => m.Text), Is.EqualTo(Enumerable.Range(0, 50).Select(i => $"m{i}")), "replayed in send order");
            Assert.That(messages.Select(m => m.Seq), Is.EqualTo(sent));
            Assert.That(await b.InboxReplayed, Is.EqualTo(51), "the replay counted the update and 50 messages");
            await Poll.UntilAsync(async () => (await b.PingAsync()) > 0 && b.PushesReceived == 51, "all pushes received");

            // Acks are batched by the client; the inbox is empty once they are applied.
            var inbox = Node.Services.GetInbox();
            await Poll.UntilAsync(async () => (await inbox.ReadAsync(new(bob, "phone"), 0, 100, CancellationToken.None)).Count == 0, "bob's inbox emptied by acks");
        }

        await using var again = await Node.ConnectAsync(bob, "phone");
        Assert.That(await again.InboxReplayed, Is.EqualTo(0), "nothing is redelivered after the acks");
        Assert.That(again.PushesReceived, Is.EqualTo(0));
    }

    [Test]
    public async Task The_stored_inbox_comes_before_newer_messages_of_the_same_chat()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using (await Node.ConnectAsync(bob, "phone"))
        {
        }

        await using var a = await Node.ConnectAsync(alice, "phone");
        var chatId = (await a.CreateChatAsync([bob])).ChatId;
        for (var i = 0; i < 20; i++)
        {
            await a.SendMessageAsync(chatId, $"old{i}");
        }

        // Keep sending while bob connects: whatever he gets must be in seq order with the old ones first.
        using var stop = new CancellationTokenSource();
        var sender = Task.Run(async () =>
        {
            for (var i = 0; i < 20 && !stop.IsCancellationRequested; i++)
            {
                await a.SendMessageAsync(chatId, $"new{i}");
            }
        });
        await using var b = await global::ChatNode.Client.ChatClient.ConnectAsync(Node.ClientOptions(bob, "phone"));
        await sender;
        var messages = await ChatAssert.ReceiveAsync(b.Messages, 40, "old and new messages");
        Assert.That(messages.Take(20).Select(m => m.Text), Is.EqualTo(Enumerable.Range(0, 20).Select(i => $"old{i}")));
        Assert.That(messages.Select(m => m.Seq), Is.Ordered, "one sender's messages arrive in seq order");
    }
}
