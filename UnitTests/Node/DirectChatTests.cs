using ChatNode.Client;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

[TestFixture(StoreBackend.Redis)]
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
public sealed class DirectChatTests(StoreBackend backend) : NodeFixture(backend)
{
    [TestCase(ChatEncoding.Proto)]
    [TestCase(ChatEncoding.Json)]
    public async Task Both_online_users_exchange_messages_in_real_time(ChatEncoding encoding)
    {
        var alice = TestEnvironment.NewId("alice");
        var bob = TestEnvironment.NewId("bob");
        await using var a = await Node.ConnectAsync(alice, "phone", encoding);
        await using var b = await Node.ConnectAsync(bob, "phone", encoding);

        var chat = await a.CreateChatAsync([bob], "a and b");
        Assert.That(chat.Participants, Is.EquivalentTo(new[] { alice, bob }));
        var created = await ChatAssert.ReceiveAsync(b.ChatUpdates, 1, "bob's chatUpdate for the new chat");
        Assert.That(created[0].Chat.ChatId, Is.EqualTo(chat.ChatId));

        var first = await a.SendMessageAsync(chat.ChatId, "hello bob");
        var second = await b.SendMessageAsync(chat.ChatId, "hi alice");
        Assert.That(second.Seq, Is.GreaterThan(first.Seq), "per-chat sequence numbers increase strictly");

        var atBob = (await ChatAssert.ReceiveAsync(b.Messages, 1, "alice's message at bob"))[0];
        Assert.Multiple(() =>
        {
            Assert.That(atBob.Text, Is.EqualTo("hello bob"));
            Assert.That(atBob.SenderUserId, Is.EqualTo(alice));
            Assert.That(atBob.MessageId, Is.EqualTo(first.MessageId));
            Assert.That(atBob.Seq, Is.EqualTo(first.Seq));
        });
        var atAlice = (await ChatAssert.ReceiveAsync(a.Messages, 1, "bob's message at alice"))[0];
        Assert.That(atAlice.Text, Is.EqualTo("hi alice"));
    }
}
