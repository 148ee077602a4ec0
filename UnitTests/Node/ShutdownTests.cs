using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

[TestFixture]
public sealed class ShutdownTests
{
    [Test]
    public async Task Stopping_a_node_closes_its_clients_with_the_reconnect_code_and_keeps_their_messages()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        string chatId;
        string messageId;
        var node = await TestNode.StartAsync();
        await using (node)
        {
            await using var a = await node.ConnectAsync(alice, "phone");
            await using var b = await RawSocket.ConnectAsync(node.WsUrl, node.Token(bob, "phone"));
            chatId = (await a.CreateChatAsync([bob])).ChatId;
            messageId = (await a.SendMessageAsync(chatId, "before the restart")).MessageId;

            var closed = b.ClosedAsync();
            var stopping = node.DisposeAsync().AsTask();
            Assert.That(await Poll.WithinAsync(closed, "bob's connection to close on shutdown"), Is.EqualTo(4002));
            await Poll.WithinAsync(stopping.ContinueWith(_ => true), "the node to stop");
        }

        // Bob never acknowledged over the raw socket: the message waits in his inbox for the next node.
        await using var next = await TestNode.StartAsync();
        await using var again = await next.ConnectAsync(bob, "phone");
        var got = await ChatAssert.ReceiveAsync(again.Messages, 1, "the unacknowledged message after the restart");
        Assert.That(got[0].MessageId, Is.EqualTo(messageId));
    }
}
