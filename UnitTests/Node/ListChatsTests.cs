using ChatNode.Client;
using ChatNode.Protocol.V1;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

[TestFixture(StoreBackend.Redis)]
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
public sealed class ListChatsTests(StoreBackend backend) : NodeFixture(backend)
{
    [Test]
    public async Task Chats_come_in_pages_oldest_first_and_a_chat_created_meanwhile_comes_last()
    {
        var alice = TestEnvironment.NewId("alice");
        await using var a = await Node.ConnectAsync(alice, "phone");
        var created = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            created.Add((await a.CreateChatAsync([TestEnvironment.NewId("friend")])).ChatId);
        }

        var first = await a.ListChatsPageAsync(limit: 2);
        Assert.That(first.Chats.Select(c => c.ChatId), Is.EqualTo(created.Take(2)));
        Assert.That(first.Next, Is.Not.Empty, "more pages follow");

        created.Add((await a.CreateChatAsync([TestEnvironment.NewId("friend")])).ChatId);
        var listed = first.Chats.Select(c => c.ChatId).ToList();
        var next = first.Next;
        var pages = 1;
        while (next.Length > 0)
        {
            var page = await a.ListChatsPageAsync(next, 2);
            Assert.That(page.Chats, Has.Count.InRange(1, 2));
            listed.AddRange(page.Chats.Select(c => c.ChatId));
            next = page.Next;
            pages++;
        }

        Assert.That(listed, Is.EqualTo(created), "every chat once, in creation order, the new one last");
        Assert.That(pages, Is.EqualTo(3));
        Assert.That((await a.ListChatsPageAsync()).Chats, Has.Count.EqualTo(6), "the default page holds them all");

        var bad = Assert.ThrowsAsync<ChatErrorException>(() => a.ListChatsPageAsync("not-a-cursor"));
        Assert.That(bad!.Code, Is.EqualTo(ErrorCode.BadRequest));
    }
}
