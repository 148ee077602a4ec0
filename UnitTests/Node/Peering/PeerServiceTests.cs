using ChatNode.Client;
using ChatNode.Fleet;
using ChatNode.Peering;
using ChatNode.Protocol.V1;
using ChatNode.Protocol.Store;
using ChatNode.Storage;
using ChatNode.UnitTests.Infrastructure;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Node.Peering;

/// <summary>The receiving end of a peer stream, driven as another node would drive it, and what the sending end asks of it.</summary>
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
[TestFixture(StoreBackend.Redis)]
public sealed class PeerServiceTests(StoreBackend backend)
{
    [TestCase("01:00:00", new ulong[] { 1, 5 }, TestName = "Acks of a stream: the first batch at once, the rest when it completes")]
    [TestCase("00:00:00", new ulong[] { 1, 2, 3, 4, 5 }, TestName = "Acks of a stream: every batch with an ack interval of 0")]
    public async Task Acks(string ackInterval, ulong[] acked)
    {
        await using var fleet = await TestFleet.StartAsync(2, new Dictionary<string, string?> { ["Node:PeerAckInterval"] = ackInterval }, backend);
        var (sender, receiver) = (fleet.Nodes[0], fleet.Nodes[1]);
        var user = fleet.UserOwnedBy(TestFleet.NodeIdOf(receiver), "acked");

        // A JSON client: the forwarded protobuf frame is parsed for it on the receiving node.
        await using var phone = await receiver.ConnectAsync(user, "phone", ChatEncoding.Json);
        await using var stream = PeerCall.Open(receiver, TestFleet.NodeIdOf(sender));
        var epoch = TestFleet.Ring(receiver).Epoch;
        for (var i = 0; i < 5; i++)
        {
            await stream.SendAsync([user], epoch);
        }

        var pushed = await ChatAssert.ReceiveAsync(phone.Messages, 5, "the five forwarded pushes");
        Assert.That(pushed.Select(m => m.Seq), Is.EqualTo(new ulong[] { 1, 2, 3, 4, 5 }), "in the stream's order");

        var acks = await stream.CompleteAsync();
        Assert.That(acks.Select(a => a.BatchId), Is.EqualTo(acked), "the batches acked");
        Assert.That(acks.Sum(a => (long)a.Pushed), Is.EqualTo(5), "together the acks count every push");
    }

    [Test]
    public async Task Users_a_batch_names_for_a_resync_are_pushed_what_their_inboxes_hold_and_they_were_not_pushed()
    {
        await using var pair = await ChatAcrossNodesAsync();
        var (sender, receiver, alice, bob, chat) = (pair.Sender, pair.Receiver, pair.Alice, pair.Bob, pair.Chat);

        // A message in bob's inbox whose live push never came, as when the sender's queue for bob's node was full.
        var stored = await StoreForAsync(receiver, chat, alice, bob, "dropped on the way");

        await using var stream = PeerCall.Open(receiver, TestFleet.NodeIdOf(sender));
        await stream.SendResyncAsync([bob], stored.SentAtUs);
        var pushed = await ChatAssert.ReceiveAsync(pair.BobPhone.Messages, 1, "the message whose live push was lost");
        Assert.That((pushed[0].MessageId, pushed[0].Text), Is.EqualTo((stored.MessageId, "dropped on the way")));
    }

    [Test]
    public async Task A_delivery_a_full_queue_dropped_arrives_through_the_resync_the_next_batch_asks_for()
    {
        await using var pair = await ChatAcrossNodesAsync();
        var (sender, receiver, alice, bob, chat) = (pair.Sender, pair.Receiver, pair.Alice, pair.Bob, pair.Chat);
        var first = await StoreForAsync(receiver, chat, alice, bob, "first");
        var second = await StoreForAsync(receiver, chat, alice, bob, "second");

        // A sending end with room for one delivery, its stream not open yet: the second delivery is dropped.
        var auth = sender.Services.GetRequiredService<PeerAuth>();
        var metrics = sender.Services.GetRequiredService<PeerMetrics>();
        var self = receiver.Services.GetRequiredService<NodeLifecycle>().Self!;
        var client = new PeerClient(self, TestFleet.NodeIdOf(sender), auth, capacity: 1, batchSize: 10, metrics, new RecordingLogger(), TimeProvider.System);
        try
        {
            Assert.That(client.TryEnqueue(Forward(chat, bob, first)), Is.True);
            Assert.That(client.TryEnqueue(Forward(chat, bob, second)), Is.False, "the queue is full");
            client.Start();

            var pushed = await ChatAssert.ReceiveAsync(pair.BobPhone.Messages, 2, "the forwarded message, then the dropped one by resync");
            Assert.That(pushed.Select(m => m.Text), Is.EqualTo(new[] { "first", "second" }));
        }
        finally
        {
            await client.DisposeAsync();
        }
    }

    // Two nodes whose periodic resync is an hour away (only a resync the test causes brings what a push missed), alice
    // on the first (the sender of forwards), bob on the second, connected, and a chat of theirs.
    private async Task<ChatPair> ChatAcrossNodesAsync()
    {
        var fleet = await TestFleet.StartAsync(2, new Dictionary<string, string?> { ["Node:InboxResyncInterval"] = "01:00:00" }, backend);
        try
        {
            var (sender, receiver) = (fleet.Nodes[0], fleet.Nodes[1]);
            var (alice, bob) = (fleet.UserOwnedBy(TestFleet.NodeIdOf(sender), "alice"), fleet.UserOwnedBy(TestFleet.NodeIdOf(receiver), "bob"));
            var a = await sender.ConnectAsync(alice, "phone");
            var b = await receiver.ConnectAsync(bob, "phone");
            var chat = await a.CreateChatAsync([bob]);
            return new ChatPair(fleet, alice, bob, a, b, chat.ChatId);
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    private sealed record ChatPair(TestFleet Fleet, string Alice, string Bob, ChatClient AlicePhone, ChatClient BobPhone, string Chat) : IAsyncDisposable
    {
        public TestNode Sender => Fleet.Nodes[0];

        public TestNode Receiver => Fleet.Nodes[1];

        public async ValueTask DisposeAsync()
        {
            await BobPhone.DisposeAsync();
            await AlicePhone.DisposeAsync();
            await Fleet.DisposeAsync();
        }
    }

    // A message of alice's in the chat, stored and in bob's inbox, not pushed to anyone.
    private static async Task<StoredMessage> StoreForAsync(TestNode node, string chatId, string alice, string bob, string text)
    {
        var appended = await node.Services.GetRequiredService<IMessageStore>().AppendAsync(
            new MessageDraft(chatId, Guid.NewGuid().ToString("N"), alice, "phone", "direct-" + Guid.NewGuid().ToString("N"), new MessageBody { Text = text }.ToByteArray()), CancellationToken.None);
        var stored = appended.Message!;
        await node.Services.GetRequiredService<IInboxStore>().AddAsync(
            [new ClientAddress(bob, "phone")], new InboxEntry(DeliveryId.ForMessage(chatId, stored.Seq), stored.SentAtUs), 1000, CancellationToken.None);
        return stored;
    }

    // The delivery a sending node would forward for the stored message.
    private static ChatNode.Protocol.Peer.Delivery Forward(string chatId, string user, StoredMessage message)
    {
        var deliveryId = DeliveryId.ForMessage(chatId, message.Seq);
        var frame = new ServerFrame
        {
            NewMessage = new NewMessage { DeliveryId = deliveryId, ChatId = chatId, MessageId = message.MessageId, Seq = (ulong)message.Seq, SenderUserId = message.SenderUserId, Text = MessageBody.Parser.ParseFrom(message.Body.Span).Text },
        };
        var delivery = new ChatNode.Protocol.Peer.Delivery { Frame = frame.ToByteString(), DeliveryId = deliveryId, StoredAtUs = message.SentAtUs };
        delivery.UserIds.Add(user);
        return delivery;
    }
}
