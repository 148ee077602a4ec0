using ChatNode.Storage;
using ChatNode.Connections;
using ChatNode.Protocol;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Node;

[TestFixture]
public sealed class SlowConsumerTests
{
    [Test]
    public async Task A_client_that_stops_reading_is_evicted_and_gets_everything_after_reconnecting()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["Node:OutboundBudgetBytes"] = "65536",
            ["Node:MaxFrameBytes"] = "32768",
            ["Node:MaxTextBytes"] = "16384",
            ["Node:RequestsPerSecond"] = "100000",
            ["Node:RequestBurst"] = "100000",
        });
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await node.ConnectAsync(alice, "phone");
        var chat = await a.CreateChatAsync([bob]);

        // Bob connects and never reads: the kernel buffers fill, then his queue exceeds its budget.
        await using var stalled = await RawSocket.ConnectAsync(node.WsUrl, node.Token(bob, "phone"));
        var registry = node.Services.GetRequiredService<ConnectionRegistry>();
        await Poll.UntilAsync(() => registry.Find(new ClientAddress(bob, "phone")) is not null, "bob's connection registered");

        var text = new string('x', 16_000);
        var sent = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        // Evicted means closing: the registry keeps the connection until its close deadline (2 s) passed.
        while (registry.Find(new ClientAddress(bob, "phone")) is { IsClosing: false })
        {
            Assert.That(sent, Has.Count.LessThan(3000), "bob was not evicted after 3,000 messages");
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "bob was not evicted within 60 s");
            var batch = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => a.SendMessageAsync(chat.ChatId, text)));
            sent.AddRange(batch.Select(r => r.MessageId));
        }

        Assert.That(registry.Find(new ClientAddress(bob, "phone"))?.CloseCode ?? CloseCode.SlowConsumer, Is.EqualTo(CloseCode.SlowConsumer));
        await using var b = await global::ChatNode.Client.ChatClient.ConnectAsync(node.ClientOptions(bob, "phone"));
        var received = await ChatAssert.ReceiveAsync(b.Messages, sent.Count, $"all {sent.Count} messages after reconnecting", TimeSpan.FromSeconds(60));
        Assert.That(received.Select(m => m.MessageId), Is.EquivalentTo(sent));
    }
}
