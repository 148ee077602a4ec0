using System.Net.WebSockets;
using ChatNode.Connections;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using Microsoft.Extensions.DependencyInjection;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node.Connections;

[TestFixture]
[Fast]
public sealed class ConnectionRegistryTests
{
    private static readonly ConnectionMetrics Metrics = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    private static ClientConnection Connection(string user, string client) =>
        new(WebSocket.CreateFromStream(new MemoryStream(), new WebSocketCreationOptions { IsServer = true }), new ClientAddress(user, client), FrameEncoding.Proto, new ConnectionOptions(), Metrics, TimeProvider.System);

    [Test]
    public void A_walk_yields_every_connection_once_and_additions_are_counted()
    {
        var registry = new ConnectionRegistry();
        var connections = Enumerable.Range(0, 500).Select(i => Connection("user" + (i / 2), i % 2 == 0 ? "phone" : "laptop")).ToArray();
        foreach (var connection in connections)
        {
            registry.Add(connection);
        }

        Assert.That(registry.Walk(), Is.EquivalentTo(connections), "every connection, once, across the shards");
        Assert.That(registry.Added, Is.EqualTo(500));
        using var replacement = Connection("user0", "phone");
        registry.Add(replacement);
        Assert.That(registry.Added, Is.EqualTo(501), "a replacement is new to a scan too");
        registry.Remove(connections[1]);
        Assert.That(registry.Added, Is.EqualTo(501), "a removal is not");
        foreach (var connection in connections)
        {
            connection.Dispose();
        }
    }

    [Test]
    public void A_user_has_one_connection_per_client_and_a_newer_one_replaces_the_older()
    {
        var registry = new ConnectionRegistry();
        using var phone = Connection("alice", "phone");
        using var laptop = Connection("alice", "laptop");
        using var phoneAgain = Connection("alice", "phone");
        Assert.That(registry.Add(phone), Is.Null);
        Assert.That(registry.Add(laptop), Is.Null);
        Assert.That(registry.Add(phoneAgain), Is.SameAs(phone));
        Assert.That(registry.ForUser("alice"), Is.EquivalentTo(new[] { laptop, phoneAgain }));
        Assert.That(registry.Count, Is.EqualTo(2));

        registry.Remove(phone);
        Assert.That(registry.Count, Is.EqualTo(2), "removing the replaced connection leaves its successor");
        registry.Remove(phoneAgain);
        registry.Remove(laptop);
        Assert.That(registry.ForUser("alice"), Is.Empty);
        Assert.That(registry.Count, Is.Zero);
    }

    [Test]
    public void Pushes_are_held_during_replay_and_released_once_without_those_replayed()
    {
        using var connection = Connection("bob", "phone");
        var replayed = new OutboundFrame(new ServerFrame(), "m.c.1");
        var live = new OutboundFrame(new ServerFrame(), "m.c.2");
        connection.Deliver(replayed);
        connection.Deliver(live);
        Assert.That(connection.IsPending("m.c.1"), Is.False, "held, not yet pushed");

        connection.DeliverStored(new OutboundFrame(new ServerFrame(), "m.c.1"));
        connection.EndReplay();
        Assert.That(connection.IsPending("m.c.1") && connection.IsPending("m.c.2"), Is.True);

        connection.Acknowledge(["m.c.1"]);
        Assert.That(connection.IsPending("m.c.1"), Is.False);
        Assert.That(connection.DuePushes(long.MaxValue), Is.EqualTo(new[] { "m.c.2" }));
    }
}
