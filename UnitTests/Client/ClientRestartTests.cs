using ChatNode.Client;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Client;

/// <summary>What an application sees across restarts of its client: each message once.</summary>
[TestFixture(StoreBackend.Redis)]
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
public sealed class ClientRestartTests(StoreBackend backend) : NodeFixture(backend)
{
    [Test]
    public async Task A_client_restarted_between_messages_hands_each_message_to_the_app_once()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        var shown = new SeqDedupe();
        await using var a = await Node.ConnectAsync(alice, "phone");
        var chat = await a.CreateChatAsync([bob]);
        var seen = new List<string>();
        var sent = new List<string>();
        for (var restart = 0; restart < 4; restart++)
        {
            // The app keeps what it showed (here SeqDedupe, in an app its message store) and starts a new client.
            await using var b = await Node.ConnectAsync(bob, "phone", configure: o => o.Dedupe = shown);
            for (var i = 0; i < 5; i++)
            {
                sent.Add((await a.SendMessageAsync(chat.ChatId, $"restart {restart} message {i}")).MessageId);
            }

            // Disposed at once after receiving, before the ack delay: its gathered acks must still reach the node.
            seen.AddRange((await ChatAssert.ReceiveAsync(b.Messages, 5, $"the messages of round {restart}")).Select(m => m.MessageId));
        }

        Assert.That(seen, Is.EqualTo(sent), "each message once, in order");
        await using var last = await Node.ConnectAsync(bob, "phone");
        Assert.That(await last.InboxReplayed, Is.Zero, "every disposed client acknowledged what it was shown before it closed");
    }

    [Test]
    public async Task An_app_that_keeps_no_dedupe_is_still_not_pushed_again_what_it_acknowledged()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        var chat = await a.CreateChatAsync([bob]);
        await using (var b = await Node.ConnectAsync(bob, "phone"))
        {
            await a.SendMessageAsync(chat.ChatId, "once");
            await ChatAssert.ReceiveAsync(b.Messages, 1, "the message");
        }

        await using var again = await Node.ConnectAsync(bob, "phone");
        Assert.That(await again.InboxReplayed, Is.Zero, "the chat update and the message were acknowledged on dispose");
        await ChatAssert.NothingAsync(again.Messages, TimeSpan.FromMilliseconds(300), "message pushed again");
    }
}
