using ChatNode.Registry.Ring;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Registry;

[TestFixture]
[Fast]
public sealed class HashRingTests
{
    private static NodeInfo Node(string id, NodeState state = NodeState.Active, int vnodes = 128) =>
        new(id, 1, $"ws://{id}/ws", $"http://{id}:9", state, vnodes);

    private static readonly string[] Keys = Enumerable.Range(0, 20_000).Select(i => $"user-{i}").ToArray();

    [Test]
    public void Every_node_computes_the_same_owner_whatever_order_it_learned_the_members_in()
    {
        var nodes = Enumerable.Range(0, 7).Select(i => Node($"node-{i}")).ToArray();
        var one = new HashRing(nodes);
        var other = new HashRing(nodes.Reverse().Select(n => n with { Generation = 9 }));
        Assert.That(Keys.All(k => one.OwnerOf(k)!.NodeId == other.OwnerOf(k)!.NodeId), Is.True);
    }

    [TestCase(3)]
    [TestCase(5)]
    [TestCase(10)]
    [TestCase(20)]
    public void The_most_loaded_node_owns_at_most_1_3_times_the_mean_share(int count)
    {
        var ring = new HashRing(Enumerable.Range(0, count).Select(i => Node($"chat-node-{i}")));
        var shares = ring.Shares();
        Assert.That(shares.Values.Sum(), Is.EqualTo(1.0).Within(1e-9));
        Assert.That(shares.Values.Max() / (1.0 / count), Is.LessThanOrEqualTo(1.3), string.Join(", ", shares.Select(s => $"{s.Key}={s.Value:P1}")));
    }

    [TestCase(3)]
    [TestCase(8)]
    [TestCase(16)]
    public void Adding_a_kth_node_moves_about_1_over_k_of_the_keys_and_only_to_the_new_node(int existing)
    {
        var before = new HashRing(Enumerable.Range(0, existing).Select(i => Node($"node-{i}")));
        var after = new HashRing(Enumerable.Range(0, existing + 1).Select(i => Node($"node-{i}")));
        var moved = Keys.Where(k => before.OwnerOf(k)!.NodeId != after.OwnerOf(k)!.NodeId).ToArray();
        Assert.That(moved.All(k => after.OwnerOf(k)!.NodeId == $"node-{existing}"), Is.True, "keys only move to the new node");
        var expected = 1.0 / (existing + 1);
        Assert.That(moved.Length / (double)Keys.Length, Is.EqualTo(expected).Within(expected * 0.35));
    }

    [Test]
    public void Removing_a_node_moves_only_its_keys()
    {
        var nodes = Enumerable.Range(0, 6).Select(i => Node($"node-{i}")).ToArray();
        var before = new HashRing(nodes);
        var after = new HashRing(nodes.Where(n => n.NodeId != "node-2"));
        foreach (var key in Keys)
        {
            var was = before.OwnerOf(key)!.NodeId;
            if (was != "node-2")
            {
                Assert.That(after.OwnerOf(key)!.NodeId, Is.EqualTo(was), key);
            }
        }
    }

    [Test]
    public void An_empty_ring_owns_nothing_and_a_single_node_owns_everything()
    {
        Assert.That(new HashRing([]).OwnerOf("anyone"), Is.Null);
        var single = new HashRing([Node("solo", vnodes: 1)]);
        Assert.That(Keys.Take(100).All(k => single.OwnerOf(k)!.NodeId == "solo"), Is.True);
        Assert.That(single.Shares()["solo"], Is.EqualTo(1.0).Within(1e-9));
    }

    [Test]
    public void The_snapshot_separates_current_owners_from_target_owners_during_a_transition()
    {
        var snapshot = new RingSnapshot(7, [Node("a"), Node("b"), Node("c", NodeState.Draining), Node("d", NodeState.Joining)]);
        Assert.That(snapshot.Current.Nodes.Select(n => n.NodeId), Is.EqualTo(new[] { "a", "b", "c" }));
        Assert.That(snapshot.Target.Nodes.Select(n => n.NodeId), Is.EqualTo(new[] { "a", "b", "d" }));
        var movingToD = Keys.First(k => snapshot.TargetOwnerOf(k)!.NodeId == "d");
        Assert.That(snapshot.OwnerOf(movingToD)!.NodeId, Is.Not.EqualTo("d"));

        var firstStart = new RingSnapshot(1, [Node("x", NodeState.Joining)]);
        Assert.That(firstStart.OwnerOf("u")!.NodeId, Is.EqualTo("x"), "joining nodes serve when nobody else can");
    }
}
