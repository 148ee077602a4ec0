using ChatNode.Protocol.V1;
using ChatNode.UnitTests.Infrastructure;
using Google.Protobuf;

namespace ChatNode.UnitTests.Node;

[TestFixture(StoreBackend.Redis)]
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
public sealed class BadInputTests(StoreBackend backend) : NodeFixture(backend)
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Node:MaxFrameBytes"] = "8192", ["Node:MaxTextBytes"] = "4096" };

    [Test]
    public async Task Malformed_and_unknown_frames_get_error_frames_and_the_connection_keeps_serving()
    {
        await using var socket = await RawSocket.ConnectAsync(Node.WsUrl, Node.Token(TestEnvironment.NewId("fuzz"), "phone"));

        await socket.SendBinaryAsync([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        var malformed = await NextNonPushAsync(socket);
        Assert.That(malformed.Error?.Code, Is.EqualTo(ErrorCode.BadRequest));

        // Field 99 is no command: a well-formed frame naming something this node does not know.
        var unknown = new ClientFrame { RequestId = 5 }.ToByteArray().Concat(new byte[] { 0x9A, 0x06, 0x00 }).ToArray();
        await socket.SendBinaryAsync(unknown);
        var unknownResult = await socket.ResultAsync(5);
        Assert.That(unknownResult.Error?.Code, Is.EqualTo(ErrorCode.UnknownCommand));

        await socket.SendAsync(new ClientFrame { RequestId = 6, SendMessage = new SendMessage { ChatId = "not-a-chat", ClientMessageId = "x", Text = "hi" } });
        Assert.That((await socket.ResultAsync(6)).Error?.Code, Is.EqualTo(ErrorCode.BadRequest));

        await socket.SendAsync(new ClientFrame { RequestId = 7, Ping = new Ping() });
        Assert.That((await socket.ResultAsync(7)).Pong, Is.Not.Null, "the connection still serves after bad frames");
    }

    [Test]
    public async Task Malformed_json_gets_an_error_frame_and_unknown_json_commands_are_named()
    {
        await using var socket = await RawSocket.ConnectAsync(Node.WsUrl, Node.Token(TestEnvironment.NewId("fuzz"), "web"), "chat.v1+json");
        await socket.SendTextAsync("{not json");
        Assert.That((await NextNonPushAsync(socket)).Error?.Code, Is.EqualTo(ErrorCode.BadRequest));

        await socket.SendTextAsync("""{"requestId":"9","teleport":{"to":"mars"}}""");
        Assert.That((await socket.ResultAsync(9)).Error?.Code, Is.EqualTo(ErrorCode.UnknownCommand));

        await socket.SendTextAsync("""{"requestId":"10","ping":{}}""");
        Assert.That((await socket.ResultAsync(10)).Pong, Is.Not.Null);
    }

    [Test]
    public async Task A_flood_of_malformed_frames_from_a_client_that_never_reads_is_closed_with_4105()
    {
        await using var socket = await RawSocket.ConnectAsync(Node.WsUrl, Node.Token(TestEnvironment.NewId("fuzz"), "phone"));

        // Far more than Node:MaxBadFrames (50), sent without reading a single answer.
        for (var i = 0; i < 200 && socket.State == System.Net.WebSockets.WebSocketState.Open; i++)
        {
            try
            {
                await socket.SendBinaryAsync([0xFF]);
            }
            catch (System.Net.WebSockets.WebSocketException)
            {
                break;
            }
        }

        Assert.That(await socket.ClosedAsync(), Is.EqualTo(4105), "closed for its bad frames, with the documented code");
        await using var client = await Node.ConnectAsync(TestEnvironment.NewId("bystander"), "phone");
        Assert.That(await client.PingAsync(), Is.GreaterThan(0), "the node serves everyone else");
    }

    [Test]
    public async Task A_frame_of_the_wrong_type_for_the_subprotocol_closes_with_4100()
    {
        await using var socket = await RawSocket.ConnectAsync(Node.WsUrl, Node.Token(TestEnvironment.NewId("fuzz"), "phone"));
        await socket.SendTextAsync("""{"requestId":"1","ping":{}}""");
        Assert.That(await socket.ClosedAsync(), Is.EqualTo(4100));
    }

    [Test]
    public async Task An_oversize_frame_closes_with_4103_and_stored_messages_survive()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using (await Node.ConnectAsync(bob, "phone"))
        {
        }

        await using var a = await Node.ConnectAsync(alice, "phone");
        var chat = await a.CreateChatAsync([bob]);
        var kept = await a.SendMessageAsync(chat.ChatId, "stored before the attack");

        await using var socket = await RawSocket.ConnectAsync(Node.WsUrl, Node.Token(bob, "phone"));
        await socket.SendBinaryAsync(new byte[20_000]);
        Assert.That(await socket.ClosedAsync(), Is.EqualTo(4103));

        var tooLongText = await ChatAssert.ErrorOfAsync(() => a.SendMessageAsync(chat.ChatId, new string('x', 5000)));
        Assert.That(tooLongText, Is.EqualTo(ErrorCode.TooLarge));

        await using var b = await Node.ConnectAsync(bob, "phone");
        var got = await ChatAssert.ReceiveAsync(b.Messages, 1, "the message stored before the bad frames");
        Assert.That(got[0].MessageId, Is.EqualTo(kept.MessageId));
        Assert.That(await a.PingAsync(), Is.GreaterThan(0), "other connections were never affected");
    }

    [Test]
    public async Task A_message_far_over_the_limit_in_one_frame_or_many_fragments_gets_4103_not_a_reset()
    {
        var bob = TestEnvironment.NewId("bob");
        foreach (var fragments in new[] { 1, 256 })
        {
            // 16 MiB, as one frame or as fragments of 64 KiB, sent to the end before reading (as a simple client does):
            // the node refuses it after 8 KiB, yet the client must still find the 4103 close frame, not a reset.
            await using var socket = await RawSocket.ConnectAsync(Node.WsUrl, Node.Token(bob, "phone"));
            await Poll.WithinAsync(socket.SendFragmentsAsync(new byte[16 * 1024 * 1024], fragments).ContinueWith(t => t.Exception?.InnerException?.Message ?? "sent"), "the send to end");
            Assert.That(await socket.ClosedAsync(), Is.EqualTo(4103), $"{fragments} fragment(s): the close frame arrived");
        }
    }

    private static async Task<ServerFrame> NextNonPushAsync(RawSocket socket)
    {
        while (true)
        {
            var frame = await socket.ReceiveAsync();
            Assert.That(frame, Is.Not.Null, "connection closed unexpectedly");
            if (frame!.BodyCase is not (ServerFrame.BodyOneofCase.Welcome or ServerFrame.BodyOneofCase.InboxReplayed))
            {
                return frame;
            }
        }
    }

    [Test]
    public async Task Chat_names_with_control_bidi_override_or_invisible_characters_are_refused()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        foreach (var name in new[] { "a\0b", "line\nbreak", "evil\u202Etxt.exe", "in\u200Bvisible", "\uFEFFbom", "iso\u2067late" })
        {
            Assert.That(await ChatAssert.ErrorOfAsync(() => a.CreateChatAsync([bob], name)), Is.EqualTo(ErrorCode.BadRequest), name);
        }

        var family = await a.CreateChatAsync([bob], "Family \U0001F468\u200D\U0001F469\u200D\U0001F467 Ünïcödé");
        Assert.That(family.Name, Does.StartWith("Family"), "emoji sequences (zero-width joiners) and letters are fine");
        Assert.That(await a.ListChatsAsync(), Has.Count.EqualTo(1), "the refusals stored nothing");
    }
}
