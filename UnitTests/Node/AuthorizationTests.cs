using System.Net;
using ChatNode.Protocol.V1;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

[TestFixture(StoreBackend.Redis)]
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
public sealed class AuthorizationTests(StoreBackend backend) : NodeFixture(backend)
{
    [Test]
    public async Task Missing_forged_and_expired_tokens_are_refused_before_the_upgrade()
    {
        var user = TestEnvironment.NewId("mallory");
        var valid = Node.Token(user, "phone");
        var forged = valid[..^4] + (valid[^4..] == "AAAA" ? "BBBB" : "AAAA");
        var otherSecret = new global::ChatNode.Auth.TokenService(
            new global::ChatNode.Auth.AuthOptions { Secret = "some-other-cluster-secret-xyz" }, TimeProvider.System).Mint(user, "phone", TimeSpan.FromHours(1));
        var expired = Node.Tokens.Mint(user, "phone", TimeSpan.FromSeconds(-5));

        foreach (var (token, what) in new[] { ((string?)null, "missing"), (forged, "forged signature"), (otherSecret, "other secret"), (expired, "expired"), ("garbage", "garbage") })
        {
            var (socket, status) = await RawSocket.TryConnectAsync(Node.WsUrl, token);
            Assert.That(socket, Is.Null, what);
            Assert.That(status, Is.EqualTo(HttpStatusCode.Unauthorized), what);
        }

        var (query, queryStatus) = await RawSocket.TryConnectAsync(Node.WsUrl, valid, tokenInQuery: true);
        Assert.That(query, Is.Not.Null, $"a valid token in access_token is accepted (HTTP {(int)queryStatus})");
        await query!.DisposeAsync();
    }

    [Test]
    public async Task A_connection_is_closed_with_4004_when_its_token_expires()
    {
        await using var socket = await RawSocket.ConnectAsync(Node.WsUrl, Node.Tokens.Mint(TestEnvironment.NewId("brief"), "phone", TimeSpan.FromSeconds(2)));
        Assert.That(await socket.ClosedAsync(), Is.EqualTo(4004));
    }

    [Test]
    public async Task A_non_participant_may_not_send_and_a_removed_participant_stops_receiving()
    {
        var (alice, bob, eve) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"), TestEnvironment.NewId("eve"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        await using var b = await Node.ConnectAsync(bob, "phone");
        await using var e = await Node.ConnectAsync(eve, "phone");
        var chat = await a.CreateChatAsync([bob], "private");

        Assert.That(await ChatAssert.ErrorOfAsync(() => e.SendMessageAsync(chat.ChatId, "let me in")), Is.EqualTo(ErrorCode.NotParticipant));
        Assert.That(await ChatAssert.ErrorOfAsync(() => e.AddParticipantAsync(chat.ChatId, eve)), Is.EqualTo(ErrorCode.NotParticipant));
        Assert.That(await ChatAssert.ErrorOfAsync(() => b.RemoveParticipantAsync(chat.ChatId, alice)), Is.EqualTo(ErrorCode.Forbidden), "only the creator removes others");
        Assert.That((await e.ListChatsAsync()).Select(c => c.ChatId), Does.Not.Contain(chat.ChatId));

        await a.RemoveParticipantAsync(chat.ChatId, bob);
        var updates = await ChatAssert.ReceiveAsync(b.ChatUpdates, 2, "bob's created and removed updates");
        Assert.That(updates[1].Kind, Is.EqualTo(ChatUpdateKind.ParticipantRemoved));
        Assert.That(updates[1].TargetUserId, Is.EqualTo(bob));

        await a.SendMessageAsync(chat.ChatId, "after bob left");
        Assert.That(await ChatAssert.ErrorOfAsync(() => b.SendMessageAsync(chat.ChatId, "still here?")), Is.EqualTo(ErrorCode.NotParticipant));

        // A marker in another chat, sent after: once bob has it, the earlier message would have arrived too.
        var other = await a.CreateChatAsync([bob], "other");
        await a.SendMessageAsync(other.ChatId, "marker");
        var received = await ChatAssert.ReceiveAsync(b.Messages, 1, "the marker");
        Assert.That(received[0].Text, Is.EqualTo("marker"), "bob got nothing of the chat he was removed from");
        Assert.That((await b.ListChatsAsync()).Select(c => c.ChatId), Is.EquivalentTo(new[] { other.ChatId }));
    }
}
