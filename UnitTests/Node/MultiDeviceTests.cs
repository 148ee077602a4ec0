using ChatNode.Client;
using ChatNode.Protocol.V1;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

[TestFixture(StoreBackend.Redis)]
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
public sealed class MultiDeviceTests(StoreBackend backend) : NodeFixture(backend)
{
    [Test]
    public async Task Every_client_of_every_participant_receives_including_the_senders_other_clients()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using (await Node.ConnectAsync(bob, "tablet"))
        {
            // Registers bob's third client, which stays offline.
        }

        await using var bobPhone = await Node.ConnectAsync(bob, "phone");
        await using var bobLaptop = await Node.ConnectAsync(bob, "laptop");
        await using var alicePhone = await Node.ConnectAsync(alice, "phone");
        await using var aliceLaptop = await Node.ConnectAsync(alice, "laptop");

        var chat = await alicePhone.CreateChatAsync([bob]);
        var sent = await alicePhone.SendMessageAsync(chat.ChatId, "to every device");

        foreach (var (client, name) in new[] { (bobPhone, "bob's phone"), (bobLaptop, "bob's laptop"), (aliceLaptop, "alice's laptop") })
        {
            var got = await ChatAssert.ReceiveAsync(client.Messages, 1, $"the message on {name}");
            Assert.That(got[0].MessageId, Is.EqualTo(sent.MessageId), name);
        }

        await using var bobTablet = await Node.ConnectAsync(bob, "tablet");
        var stored = await ChatAssert.ReceiveAsync(bobTablet.Messages, 1, "the message on bob's offline tablet");
        Assert.That(stored[0].MessageId, Is.EqualTo(sent.MessageId));

        // The sending client gets its result, not a push of its own message.
        await alicePhone.SendMessageAsync(chat.ChatId, "marker");
        await ChatAssert.ReceiveAsync(aliceLaptop.Messages, 1, "the marker on alice's laptop");
        Assert.That(alicePhone.PushesReceived, Is.EqualTo(0));
    }

    [Test]
    public async Task A_fourth_client_is_refused_until_one_is_deactivated_which_deletes_its_inbox()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var one = await Node.ConnectAsync(bob, "one");
        await using (await Node.ConnectAsync(bob, "two"))
        {
        }

        await using (await Node.ConnectAsync(bob, "three"))
        {
        }

        var (fourth, status) = await RawSocket.TryConnectAsync(Node.WsUrl, Node.Token(bob, "four"));
        Assert.That(fourth, Is.Not.Null, $"the upgrade itself succeeds (HTTP {(int)status}) so browsers see the reason");
        await using (fourth)
        {
            var error = await fourth!.ReceiveAsync();
            Assert.That(error?.Error?.Code, Is.EqualTo(ErrorCode.TooManyClients));
            Assert.That(await fourth.ClosedAsync(), Is.EqualTo(4104));
        }

        Assert.That((await one.ListClientsAsync()).Select(c => c.ClientId), Is.EquivalentTo(new[] { "one", "two", "three" }));

        // A message for bob lands in client "two"'s inbox; deactivating "two" deletes it.
        await using var a = await Node.ConnectAsync(alice, "phone");
        var chat = await a.CreateChatAsync([bob]);
        await a.SendMessageAsync(chat.ChatId, "for all of bob's clients");
        var inbox = Node.Services.GetInbox();
        Assert.That(await inbox.ReadAsync(new(bob, "two"), 0, 10, CancellationToken.None), Has.Count.EqualTo(2), "chat update and message stored for client two");

        await one.DeactivateClientAsync("two");
        Assert.That(await inbox.ReadAsync(new(bob, "two"), 0, 10, CancellationToken.None), Is.Empty, "deactivation deleted the inbox");
        Assert.That(await ChatAssert.ErrorOfAsync(() => one.DeactivateClientAsync("two")), Is.EqualTo(ErrorCode.NotFound));

        await using var four = await Node.ConnectAsync(bob, "four");
        Assert.That(four.Welcome?.ClientId, Is.EqualTo("four"));
        Assert.That((await four.ListClientsAsync()).Select(c => c.ClientId), Is.EquivalentTo(new[] { "one", "three", "four" }));
    }

    [Test]
    public async Task A_connected_client_that_is_deactivated_is_closed_with_the_terminal_code()
    {
        var bob = TestEnvironment.NewId("bob");
        await using var phone = await Node.ConnectAsync(bob, "phone");
        await using var laptop = await Node.ConnectAsync(bob, "laptop");
        await phone.DeactivateClientAsync("laptop");
        var closed = await Poll.WithinAsync(laptop.Closed, "the laptop's connection to close");
        Assert.That(closed.Code, Is.EqualTo(4101));
    }
}
