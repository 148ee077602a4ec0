using ChatNode.Client;
using ChatNode.Protocol.V1;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

[TestFixture(StoreBackend.Redis)]
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
public sealed class GroupChatTests(StoreBackend backend) : NodeFixture(backend)
{
    [Test]
    public async Task Every_participant_of_a_chat_of_100_receives_and_a_101st_is_refused()
    {
        var users = Enumerable.Range(0, 100).Select(i => TestEnvironment.NewId($"g{i}")).ToArray();
        var clients = new ChatClient[users.Length];
        try
        {
            for (var i = 0; i < users.Length; i++)
            {
                clients[i] = await Node.ConnectAsync(users[i], "phone");
            }

            var chat = await clients[0].CreateChatAsync(users[1..], "hundred");
            Assert.That(chat.Participants, Has.Count.EqualTo(100));

            var sent = await clients[7].SendMessageAsync(chat.ChatId, "to all");
            for (var i = 0; i < users.Length; i++)
            {
                if (i == 7)
                {
                    continue;
                }

                var got = await ChatAssert.ReceiveAsync(clients[i].Messages, 1, $"the group message at participant {i}");
                Assert.That(got[0].MessageId, Is.EqualTo(sent.MessageId), $"participant {i}");
            }

            var extra = TestEnvironment.NewId("extra");
            var addError = await ChatAssert.ErrorOfAsync(() => clients[0].AddParticipantAsync(chat.ChatId, extra));
            Assert.That(addError, Is.EqualTo(ErrorCode.TooManyParticipants));

            var createError = await ChatAssert.ErrorOfAsync(() => clients[0].CreateChatAsync([.. users[1..], extra]));
            Assert.That(createError, Is.EqualTo(ErrorCode.TooManyParticipants));

            var listed = await clients[0].ListChatsAsync();
            Assert.That(listed.Single(c => c.ChatId == chat.ChatId).Participants, Has.Count.EqualTo(100), "the refused add changed nothing");
        }
        finally
        {
            foreach (var client in clients.Where(c => c is not null))
            {
                await client.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task Participants_are_told_of_additions_and_the_added_user_receives_from_then_on()
    {
        var (alice, bob, carol) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"), TestEnvironment.NewId("carol"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        await using var b = await Node.ConnectAsync(bob, "phone");
        await using var c = await Node.ConnectAsync(carol, "phone");
        var chat = await a.CreateChatAsync([bob], "team");
        await ChatAssert.ReceiveAsync(b.ChatUpdates, 1, "bob's created update");

        var updated = await b.AddParticipantAsync(chat.ChatId, carol);
        Assert.That(updated.Participants, Is.EquivalentTo(new[] { alice, bob, carol }));
        var atAlice = await ChatAssert.ReceiveAsync(a.ChatUpdates, 1, "alice's participant-added update");
        var atCarol = await ChatAssert.ReceiveAsync(c.ChatUpdates, 1, "carol's participant-added update");
        Assert.Multiple(() =>
        {
            Assert.That(atAlice[0].Kind, Is.EqualTo(ChatUpdateKind.ParticipantAdded));
            Assert.That(atAlice[0].TargetUserId, Is.EqualTo(carol));
            Assert.That(atCarol[0].Chat.Participants, Does.Contain(carol));
        });

        await a.SendMessageAsync(chat.ChatId, "welcome carol");
        var message = await ChatAssert.ReceiveAsync(c.Messages, 1, "carol's first message");
        Assert.That(message[0].Text, Is.EqualTo("welcome carol"));
    }

    [Test]
    public async Task A_chat_of_thousands_of_distinct_participants_in_one_frame_is_refused_and_the_connection_serves_on()
    {
        await using var client = await Node.ConnectAsync(TestEnvironment.NewId("fuzz"), "phone");
        var create = new CreateChat();
        create.Participants.Add(Enumerable.Range(0, 11_000).Select(i => i.ToString("x", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(create.CalculateSize(), Is.LessThan(65_536), "fits one frame");
        var error = Assert.ThrowsAsync<ChatNode.Client.ChatErrorException>(() => client.RequestAsync(new ClientFrame { CreateChat = create }));
        Assert.That(error!.Code, Is.EqualTo(ErrorCode.TooManyParticipants));
        Assert.That(await client.PingAsync(), Is.GreaterThan(0));
    }
}
