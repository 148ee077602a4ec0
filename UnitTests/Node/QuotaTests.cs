using ChatNode.Client;
using ChatNode.Protocol.V1;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

/// <summary>
/// What one signed-in user can make the store hold, bounded: messages per minute, chats per user, unacknowledged
/// entries per client (a client that stops connecting is deactivated, not kept forever), and a deactivated client stays
/// out with its old tokens. Small limits, real node and sockets, on both backends.
/// </summary>
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
[TestFixture(StoreBackend.Redis)]
public sealed class QuotaTests(StoreBackend backend) : NodeFixture(backend)
{
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?>
    {
        ["Node:UserMessagesPerMinute"] = "5",
        ["Node:MaxChatsPerUser"] = "2",
    };

    [Test]
    public async Task A_user_past_its_messages_per_minute_is_refused_but_a_retry_of_a_stored_message_still_completes()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        await using var b = await Node.ConnectAsync(bob, "phone");
        var chat = (await a.CreateChatAsync([bob])).ChatId;
        var first = await a.SendMessageAsync(chat, "m0", "c-0");
        for (var i = 1; i < 5; i++)
        {
            await a.SendMessageAsync(chat, $"m{i}");
        }

        var refused = Assert.ThrowsAsync<ChatErrorException>(() => a.SendMessageAsync(chat, "one too many"));
        Assert.That((refused!.Code, refused.OutcomeUnknown), Is.EqualTo((ErrorCode.QuotaExceeded, false)), "a definite refusal: nothing stored");

        var retried = await a.SendMessageAsync(chat, "m0", "c-0");
        Assert.That((retried.MessageId, retried.Duplicate), Is.EqualTo((first.MessageId, true)), "a retry of what was stored is answered over the quota");
        var received = await ChatAssert.ReceiveAsync(b.Messages, 5, "the five messages within the quota");
        Assert.That(received.Select(m => m.Text), Is.EqualTo(new[] { "m0", "m1", "m2", "m3", "m4" }));
    }

    [Test]
    public async Task Nobody_can_be_put_in_more_chats_than_the_limit()
    {
        var (alice, bob, carl) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"), TestEnvironment.NewId("carl"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        await a.CreateChatAsync([bob]);
        var second = await a.CreateChatAsync([bob, carl]);
        await using var c = await Node.ConnectAsync(carl, "phone");
        var third = await c.CreateChatAsync([TestEnvironment.NewId("dora")]);

        Assert.That(await ChatAssert.ErrorOfAsync(() => c.CreateChatAsync([bob])), Is.EqualTo(ErrorCode.TooManyChats), "bob is in two chats");
        Assert.That(await ChatAssert.ErrorOfAsync(() => c.AddParticipantAsync(third.ChatId, bob)), Is.EqualTo(ErrorCode.TooManyChats));
        Assert.That((await a.ListChatsAsync()).Select(x => x.ChatId), Does.Contain(second.ChatId), "the refusals changed nothing");
    }

    [Test]
    public async Task A_client_deactivated_from_another_device_cannot_reconnect_with_its_old_token()
    {
        var bob = TestEnvironment.NewId("bob");
        var laptopToken = Node.Token(bob, "laptop");
        await using var phone = await Node.ConnectAsync(bob, "phone");
        var laptop = await Connect(laptopToken);
        await phone.DeactivateClientAsync("laptop");
        Assert.That((await Poll.WithinAsync(laptop.Closed, "the laptop's connection to close")).Code, Is.EqualTo(4101));
        await laptop.DisposeAsync();

        await AssertRefusedAsync(Node, laptopToken);
        Assert.That((await phone.ListClientsAsync()).Select(c => c.ClientId), Is.EqualTo(new[] { "phone" }), "not registered again");
    }

    private Task<ChatClient> Connect(string token) => Connect(Node, token);

    internal static Task<ChatClient> Connect(TestNode node, string token) => ChatClient.ConnectAsync(new ChatClientOptions
    {
        Url = node.WsUrl,
        TokenProvider = _ => ValueTask.FromResult(token),
        AutoReconnect = false,
    });

    // Refused after the upgrade, like TOO_MANY_CLIENTS: an error frame (FORBIDDEN), then close 4101.
    internal static async Task AssertRefusedAsync(TestNode node, string token)
    {
        await using var refused = await Connect(node, token);
        Assert.That((await Poll.WithinAsync(refused.Closed, "the refused connection to close")).Code, Is.EqualTo(4101), "client deactivated");
        Assert.That(refused.LastConnectionError?.Code, Is.EqualTo(ErrorCode.Forbidden));
    }
}

/// <summary>A client that stops connecting is deactivated once its inbox holds Node:MaxInboxEntries entries, not kept forever.</summary>
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
[TestFixture(StoreBackend.Redis)]
public sealed class InboxLimitTests(StoreBackend backend) : NodeFixture(backend)
{
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["Node:MaxInboxEntries"] = "3" };

    [Test]
    public async Task A_client_whose_inbox_fills_up_is_deactivated_and_stays_out_with_its_old_token()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        var oldToken = Node.Token(bob, "phone");
        await (await QuotaTests.Connect(Node, oldToken)).DisposeAsync();
        var chat = (await a.CreateChatAsync([bob])).ChatId;

        // The chat's creation and two messages fill bob's inbox of 3; the next one finds it full.
        await a.SendMessageAsync(chat, "one");
        await a.SendMessageAsync(chat, "two");
        await a.SendMessageAsync(chat, "three");
        Assert.That((await a.ListClientsAsync()).Count, Is.EqualTo(1), "alice's own clients are untouched");

        await QuotaTests.AssertRefusedAsync(Node, oldToken);

        // Signed in again (a token issued after the deactivation; tokens count whole seconds), it starts afresh.
        await Poll.UntilAsync(async () =>
        {
            try
            {
                await using var again = await QuotaTests.Connect(Node, Node.Token(bob, "phone"));
                var first = await Poll.WithinAsync(Task.WhenAny(again.InboxReplayed, again.Closed), "the replay or the refusal");
                return first == again.InboxReplayed && again.InboxReplayed.Result == 0;
            }
            catch (ChatConnectionException)
            {
                return false;
            }
        }, "bob/phone to sign in again with a new token, its inbox gone");
    }
}


/// <summary>One client reconnecting in a loop is held to its connect budget at its owner; its other clients are not.</summary>
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
[TestFixture(StoreBackend.Redis)]
public sealed class ConnectRateTests(StoreBackend backend) : NodeFixture(backend)
{
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["Node:ConnectBurst"] = "3", ["Node:ConnectsPerMinute"] = "1" };

    [Test]
    public async Task A_client_that_reconnects_past_its_burst_gets_429_and_its_other_clients_still_connect()
    {
        var bob = TestEnvironment.NewId("bob");
        for (var i = 0; i < 3; i++)
        {
            var (socket, status) = await RawSocket.TryConnectAsync(Node.WsUrl, Node.Token(bob, "phone"));
            Assert.That(status, Is.EqualTo(System.Net.HttpStatusCode.SwitchingProtocols), $"connect {i + 1} is within the burst");
            await socket!.DisposeAsync();
        }

        var (refused, code) = await RawSocket.TryConnectAsync(Node.WsUrl, Node.Token(bob, "phone"));
        Assert.That((refused, code), Is.EqualTo(((RawSocket?)null, System.Net.HttpStatusCode.TooManyRequests)), "the fourth connect of the minute");

        await using var laptop = await RawSocket.ConnectAsync(Node.WsUrl, Node.Token(bob, "laptop"));
        Assert.That(laptop.State, Is.EqualTo(System.Net.WebSockets.WebSocketState.Open), "another client of the same user has a budget of its own");
    }
}
