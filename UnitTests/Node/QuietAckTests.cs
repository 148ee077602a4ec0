using ChatNode.Protocol.V1;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

[TestFixture(StoreBackend.Redis)]
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
public sealed class QuietAckTests(StoreBackend backend) : NodeFixture(backend)
{
    [Test]
    public async Task A_quiet_ack_removes_its_entries_and_is_answered_only_when_it_fails()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var b = await RawSocket.ConnectAsync(Node.WsUrl, Node.Token(bob, "web"), "chat.v1+json");
        await using var a = await Node.ConnectAsync(alice, "phone");
        var chatId = (await a.CreateChatAsync([bob])).ChatId;
        await a.SendMessageAsync(chatId, "hi");
        var push = await NextMessageAsync(b);

        await b.SendTextAsync($$$"""{"requestId":"5","ack":{"deliveryIds":["{{{push.DeliveryId}}}"],"quiet":true}}""");
        var inbox = Node.Services.GetInbox();
        await Poll.UntilAsync(
            async () => !(await inbox.ReadAsync(new(bob, "web"), 0, 100, CancellationToken.None)).Any(e => e.DeliveryId == push.DeliveryId),
            "the quiet ack removed the entry");

        // Everything the node sent up to the pong of a later request: no answer to the quiet ack among it.
        await b.SendTextAsync("""{"requestId":"6","ping":{}}""");
        var frames = new List<ServerFrame>();
        do
        {
            frames.Add((await b.ReceiveAsync())!);
        }
        while (frames[^1].RequestId != 6);
        Assert.That(frames.Where(f => f.RequestId == 5), Is.Empty, "a successful quiet ack gets no answer");

        await b.SendTextAsync("""{"requestId":"7","ack":{"deliveryIds":["not-a-delivery-id"],"quiet":true}}""");
        Assert.That((await b.ResultAsync(7)).Error?.Code, Is.EqualTo(ErrorCode.BadRequest), "a failed quiet ack is answered with its error");

        await b.SendTextAsync($$$"""{"requestId":"8","ack":{"deliveryIds":["{{{push.DeliveryId}}}"]}}""");
        Assert.That((await b.ResultAsync(8)).AckResult, Is.Not.Null, "an ack that is not quiet is answered as before");
    }

    private static async Task<NewMessage> NextMessageAsync(RawSocket socket)
    {
        while (true)
        {
            var frame = await socket.ReceiveAsync();
            Assert.That(frame, Is.Not.Null, "connection closed before the push");
            if (frame!.NewMessage is { } message)
            {
                return message;
            }
        }
    }
}
