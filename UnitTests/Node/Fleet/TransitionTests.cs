using ChatNode.Auth;
using ChatNode.Fleet;
using ChatNode.Registry.Ring;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Node.Fleet;

/// <summary>
/// Ring transitions under traffic: a node joining, a node drained by the admin command and by a stop. Each asserts that
/// every message confirmed to its sender reached its recipient once, that the moved clients ended at their new owner,
/// and that the moves were paced, not a burst. On the in-memory store and registry (fast tier) and on etcd and Redis.
/// </summary>
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
[TestFixture(StoreBackend.Redis)]
public sealed class TransitionTests(StoreBackend backend)
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Node:HandoffWindow"] = "00:00:02",
        ["Node:RedeliveryTimeout"] = "00:00:05",
        // The traffic sends 50 messages a second per sender, faster than the per-user quota lets a person.
        ["Node:UserMessagesPerMinute"] = "1000000",
    };

    private static NodeLifecycle Lifecycle(TestNode node) => node.Services.GetRequiredService<NodeLifecycle>();

    [Test]
    public async Task A_joining_node_takes_its_users_gradually_and_turns_active_once_they_moved()
    {
        await using var fleet = await TestFleet.StartAsync(2, Settings, backend);
        var users = Enumerable.Range(0, 24).Select(_ => TestEnvironment.NewId("rcpt")).ToArray();
        await using var traffic = await ChatTraffic.StartAsync(fleet.Seed, users);

        var joining = await fleet.AddNodeAsync(Settings);
        var joiningId = TestFleet.NodeIdOf(joining);
        Assert.That(Lifecycle(joining).State, Is.EqualTo(NodeState.Joining), "a new node joins as Joining");
        await fleet.WaitConvergedAsync(3, TimeSpan.FromSeconds(20));

        var moved = traffic.Recipients.Where(r => TestFleet.Ring(joining).TargetOwnerOf(r.User)?.NodeId == joiningId).ToArray();
        Assert.That(moved, Is.Not.Empty, "some recipients belong to the new node");
        await Poll.UntilAsync(() => moved.All(r => r.NodeId == joiningId), "every moved recipient to be connected to the new node");
        Assert.That(traffic.Recipients.Except(moved).All(r => r.NodeId != joiningId), Is.True, "the others stayed where they were");

        await traffic.StopAndAssertEachDeliveredOnceAsync(TimeSpan.FromSeconds(30));
        AssertPaced(moved, "join");
    }

    [Test]
    public async Task A_drained_node_hands_its_clients_over_at_the_rate_asked_then_leaves_with_none_left()
    {
        await using var fleet = await TestFleet.StartAsync(3, Settings, backend);
        var draining = fleet.Nodes[2];
        var drainingId = TestFleet.NodeIdOf(draining);
        var users = Enumerable.Range(0, 10).Select(_ => fleet.UserOwnedBy(drainingId, "rcpt")).ToArray();
        await using var traffic = await ChatTraffic.StartAsync(fleet.Seed, users);
        Assert.That(traffic.Recipients.All(r => r.NodeId == drainingId), Is.True);

        // What `chatnode drain NODE --rate 5` does: 10 connections at 5 a second take about 2 s.
        using var http = new HttpClient();
        using var request = AdminSignature.DrainRequest(draining.PeerUrl, TestEnvironment.FleetSecret, drainingId, 5, DateTimeOffset.UtcNow);
        Assert.That((int)(await http.SendAsync(request)).StatusCode, Is.EqualTo(202));

        var drainedWithNoneLeft = false;
        await Poll.UntilAsync(() =>
        {
            var self = TestFleet.Ring(fleet.Seed).Find(drainingId);
            drainedWithNoneLeft |= self is { State: NodeState.Draining, ConnectionsLeft: 0 };
            return self is null;
        }, "the drained node to leave the ring", TimeSpan.FromSeconds(30));
        Assert.That(drainedWithNoneLeft || draining.Services.GetRequiredService<ChatNode.Connections.ConnectionRegistry>().Count == 0, Is.True,
            "it left holding no connection");
        Assert.That(traffic.Recipients.All(r => r.NodeId != drainingId && r.NodeId is not null), Is.True, "every client moved to a live owner");

        fleet.Nodes.Remove(draining);
        await draining.DisposeAsync();
        await traffic.StopAndAssertEachDeliveredOnceAsync(TimeSpan.FromSeconds(30));
        var moves = traffic.Recipients.SelectMany(r => r.Moves).Select(m => m.At).Order().ToArray();
        Assert.That(moves, Has.Length.EqualTo(10), "each client moved once");
        Assert.That(moves[^1] - moves[0], Is.InRange(TimeSpan.FromSeconds(1.2), TimeSpan.FromSeconds(8)), "5 a second: about 2 s for 10, not all at once");
    }

    [Test]
    public async Task A_stopped_node_drains_before_it_exits_and_nothing_confirmed_is_lost()
    {
        await using var fleet = await TestFleet.StartAsync(3, Settings, backend);
        var stopping = fleet.Nodes[1];
        var stoppingId = TestFleet.NodeIdOf(stopping);
        var users = Enumerable.Range(0, 8).Select(_ => fleet.UserOwnedBy(stoppingId, "rcpt")).ToArray();
        await using var traffic = await ChatTraffic.StartAsync(fleet.Seed, users);

        fleet.Nodes.Remove(stopping);
        await stopping.DisposeAsync();
        await fleet.WaitConvergedAsync(2, TimeSpan.FromSeconds(10));
        Assert.That(traffic.Recipients.All(r => r.NodeId != stoppingId), Is.True, "every client moved");
        await traffic.StopAndAssertEachDeliveredOnceAsync(TimeSpan.FromSeconds(30));
        AssertPaced(traffic.Recipients, "stop");
    }

    [Test]
    public async Task A_forward_for_a_user_this_node_owns_in_neither_ring_is_refused_unless_the_sender_knows_a_newer_ring()
    {
        await using var fleet = await TestFleet.StartAsync(2, Settings, backend);
        var (sender, receiver) = (fleet.Nodes[0], fleet.Nodes[1]);
        var notTheReceivers = fleet.UserOwnedBy(TestFleet.NodeIdOf(sender), "fenced");
        using var fenced = new CounterTotal("chat.peer.fenced");

        var epoch = TestFleet.Ring(receiver).Epoch;
        await PeerCalls.DeliverAsync(receiver, TestFleet.NodeIdOf(sender), [notTheReceivers], epoch);
        Assert.That(fenced.Value, Is.EqualTo(1), "routed at the receiver's own epoch, to a user it does not own: refused");

        await PeerCalls.DeliverAsync(receiver, TestFleet.NodeIdOf(sender), [notTheReceivers], epoch + 1000);
        Assert.That(fenced.Value, Is.EqualTo(1), "a sender with a newer ring is trusted: the receiver is behind");
    }

    // The moves of a ring change are spread, not a burst: the first and last are apart (the window is 2 s).
    private static void AssertPaced(IEnumerable<ChatTraffic.Recipient> recipients, string what)
    {
        var moves = recipients.SelectMany(r => r.Moves).Select(m => m.At).Order().ToArray();
        if (moves.Length >= 4)
        {
            Assert.That(moves[^1] - moves[0], Is.GreaterThan(TimeSpan.FromSeconds(0.5)), $"the {what}'s {moves.Length} moves were spread over the handoff window");
        }
    }
}
