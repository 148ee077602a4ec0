using ChatNode.Client;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node.Peering;

/// <summary>The receiving end of a peer stream, driven as another node would drive it.</summary>
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
}
