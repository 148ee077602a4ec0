using ChatNode.Client;
using Google.Protobuf;
using ChatNode.Storage;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

[TestFixture(StoreBackend.Redis)]
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
public sealed class DeliveryGuaranteeTests(StoreBackend backend) : NodeFixture(backend)
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Node:RedeliveryTimeout"] = "00:00:01",
        ["Node:SweepInterval"] = "00:00:00.200",
        ["Node:InboxResyncInterval"] = "00:00:00.500",
    };

    [Test]
    public async Task A_resend_with_the_same_client_message_id_stores_one_message_and_delivers_once()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        await using var b = await Node.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);

        var first = await a.SendMessageAsync(chat.ChatId, "once", "cmid-1");
        var retry = await a.SendMessageAsync(chat.ChatId, "once", "cmid-1");
        Assert.Multiple(() =>
        {
            Assert.That(retry.MessageId, Is.EqualTo(first.MessageId));
            Assert.That(retry.Seq, Is.EqualTo(first.Seq));
            Assert.That(retry.Duplicate, Is.True);
            Assert.That(first.Duplicate, Is.False);
        });

        var marker = await a.SendMessageAsync(chat.ChatId, "marker", "cmid-2");
        Assert.That(marker.Seq, Is.EqualTo(first.Seq + 1), "the retry consumed no sequence number");
        var got = await ChatAssert.ReceiveAsync(b.Messages, 2, "the message and the marker");
        Assert.That(got.Select(m => m.Text), Is.EqualTo(new[] { "once", "marker" }));
        Assert.That(b.PushesReceived, Is.EqualTo(3), "one chat update and one push per message: the retry pushed nothing");

        var stored = await Node.Services.GetMessages().GetMessagesAsync([(chat.ChatId, (long)first.Seq), (chat.ChatId, (long)first.Seq + 2)], CancellationToken.None);
        Assert.That(stored[0]?.MessageId, Is.EqualTo(first.MessageId));
        Assert.That(stored[1], Is.Null, "no third message was stored");
    }

    [Test]
    public async Task An_unacknowledged_push_is_redelivered_after_the_timeout_and_an_acknowledged_one_is_not()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        await using var b = await Node.ConnectAsync(bob, "phone", configure: o => o.AutoAck = false);
        var chat = await a.CreateChatAsync([bob]);
        var update = await ChatAssert.ReceiveAsync(b.ChatUpdates, 1, "the chat update");
        await b.AckAsync([update[0].DeliveryId]);

        await a.SendMessageAsync(chat.ChatId, "ack me");
        var message = (await ChatAssert.ReceiveAsync(b.Messages, 1, "the first push"))[0];
        await Poll.UntilAsync(() => b.DuplicatesDropped >= 1, "the unacknowledged push to be redelivered", TimeSpan.FromSeconds(10));

        Assert.That(await b.AckAsync([message.DeliveryId]), Is.EqualTo(1u));
        var pushes = b.PushesReceived;

        // Two redelivery timeouts (and ten sweeps) without a new push; a marker message proves the connection still delivers.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await a.SendMessageAsync(chat.ChatId, "marker");
        await ChatAssert.ReceiveAsync(b.Messages, 1, "the marker");
        Assert.That(b.PushesReceived, Is.EqualTo(pushes + 1), "the acknowledged push was not redelivered");
    }

    [Test]
    public async Task An_inbox_entry_whose_live_push_was_lost_is_pushed_by_the_resync_sweep()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        await using var b = await Node.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);
        await ChatAssert.ReceiveAsync(b.ChatUpdates, 1, "the chat update");

        // Store a message the way a sending node does, then "crash" before its live push: no push is made.
        var draft = new MessageDraft(chat.ChatId, Guid.NewGuid().ToString("N"), alice, "phone", "lost-push",
            new global::ChatNode.Protocol.Store.MessageBody { Text = "never pushed live" }.ToByteArray());
        var appended = await Node.Services.GetMessages().AppendAsync(draft, CancellationToken.None);
        await Node.Services.GetInbox().AddAsync([new ClientAddress(bob, "phone")], new InboxEntry(appended.Message!.DeliveryId, appended.Message.SentAtUs), int.MaxValue, CancellationToken.None);

        var got = await ChatAssert.ReceiveAsync(b.Messages, 1, "the stored message through the resync sweep", TimeSpan.FromSeconds(10));
        Assert.That(got[0].MessageId, Is.EqualTo(appended.Message.MessageId));
    }

    [Test]
    public async Task Lost_pushes_of_more_connections_than_one_resync_batch_all_reach_their_clients()
    {
        var alice = TestEnvironment.NewId("alice");
        var users = Enumerable.Range(0, global::ChatNode.Delivery.RedeliverySweeper.ResyncBatch + 5).Select(i => TestEnvironment.NewId($"r{i}")).ToArray();
        await using var a = await Node.ConnectAsync(alice, "phone");
        var chat = await a.CreateChatAsync([users[0]]);
        var clients = new List<ChatClient>();
        try
        {
            foreach (var user in users)
            {
                clients.Add(await Node.ConnectAsync(user, "phone"));
            }

            // One stored message whose live push to every one of them was lost.
            var draft = new MessageDraft(chat.ChatId, Guid.NewGuid().ToString("N"), alice, "phone", "lost-pushes",
                new global::ChatNode.Protocol.Store.MessageBody { Text = "never pushed live" }.ToByteArray());
            var appended = await Node.Services.GetMessages().AppendAsync(draft, CancellationToken.None);
            await Node.Services.GetInbox().AddAsync([.. users.Select(u => new ClientAddress(u, "phone"))], new InboxEntry(appended.Message!.DeliveryId, appended.Message.SentAtUs), int.MaxValue, CancellationToken.None);

            foreach (var client in clients)
            {
                var got = await ChatAssert.ReceiveAsync(client.Messages, 1, "the stored message through the resync sweep", TimeSpan.FromSeconds(10));
                Assert.That(got[0].MessageId, Is.EqualTo(appended.Message.MessageId));
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }
}

[TestFixture]
public sealed class MessageTtlTests
{
    [Test]
    public async Task An_undelivered_message_expires_with_its_ttl_and_is_never_delivered()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Redis:MessageTtl"] = "00:00:02",
        });
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using (await node.ConnectAsync(bob, "phone"))
        {
        }

        await using var a = await node.ConnectAsync(alice, "phone");
        var chat = await a.CreateChatAsync([bob]);
        var sent = await a.SendMessageAsync(chat.ChatId, "expiring");

        var messages = node.Services.GetMessages();
        await Poll.UntilAsync(
            async () => (await messages.GetMessagesAsync([(chat.ChatId, (long)sent.Seq)], CancellationToken.None))[0] is null,
            "the message to expire in the store",
            TimeSpan.FromSeconds(10));

        await using var b = await node.ConnectAsync(bob, "phone");
        Assert.That(await b.InboxReplayed, Is.EqualTo(0), "nothing expired was replayed");
        Assert.That(b.PushesReceived, Is.EqualTo(0));
        Assert.That(await node.Services.GetInbox().ReadAsync(new ClientAddress(bob, "phone"), 0, 10, CancellationToken.None), Is.Empty, "expired entries are gone from the inbox");
    }
}
