using ChatNode.Fleet;
using ChatNode.Registry.Ring;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node.Fleet;

[TestFixture]
[Fast]
public sealed class OwnershipViewTests
{
    private static NodeInfo Node(string id, NodeState state) => new(id, 1, $"ws://{id}/ws", $"http://{id}", state, 64);

    private static readonly string[] Users = [.. Enumerable.Range(0, 2000).Select(i => $"user-{i}")];

    [Test]
    public void Outside_a_transition_the_current_and_target_owner_are_one_node_and_a_push_goes_there_only()
    {
        var view = new OwnershipView("a", new RingSnapshot(7, [Node("a", NodeState.Active), Node("b", NodeState.Active)]));
        foreach (var user in Users)
        {
            Assert.That(view.CurrentOwner(user), Is.EqualTo(view.TargetOwner(user)));
            var (current, target) = view.PushOwners(user);
            Assert.That((current, target), Is.EqualTo((view.CurrentOwner(user), (NodeInfo?)null)), "no dual write");
            Assert.That(view.RedirectFor(user) is null, Is.EqualTo(current!.NodeId == "a"), "a serves its own users and redirects the others");
            Assert.That(view.OwnsEither(user), Is.EqualTo(current.NodeId == "a"));
        }
    }

    [Test]
    public void A_joining_node_is_the_target_owner_of_its_segments_and_pushes_for_them_go_to_both_nodes()
    {
        var ring = new RingSnapshot(8, [Node("a", NodeState.Active), Node("b", NodeState.Active), Node("c", NodeState.Joining)]);
        var atA = new OwnershipView("a", ring);
        var atC = new OwnershipView("c", ring);
        var moving = Users.Where(u => ring.TargetOwnerOf(u)!.NodeId == "c").ToArray();
        Assert.That(moving.Length, Is.InRange(Users.Length / 6, Users.Length / 2), "the joining node takes about its share");
        foreach (var user in moving)
        {
            Assert.That(atA.CurrentOwner(user)!.NodeId, Is.Not.EqualTo("c"), "a joining node serves nobody yet in the current ring");
            var (current, target) = atA.PushOwners(user);
            Assert.That(target?.NodeId, Is.EqualTo("c"), "dual write to the new owner");
            Assert.That(current!.NodeId, Is.Not.EqualTo("c"));
            Assert.That(atC.RedirectFor(user), Is.Null, "the joining node accepts the users it is taking");
            Assert.That(atC.OwnsEither(user), Is.True);
            Assert.That(new OwnershipView(current.NodeId, ring).RedirectFor(user)?.NodeId, Is.EqualTo("c"), "their old owner sends them on");
        }

        Assert.That(Users.Except(moving).All(u => atA.PushOwners(u).Target is null), Is.True, "users that do not move get one push");
    }

    [Test]
    public void A_draining_node_still_serves_its_users_in_the_current_ring_while_they_move_to_their_target_owners()
    {
        var ring = new RingSnapshot(9, [Node("a", NodeState.Active), Node("b", NodeState.Draining), Node("c", NodeState.Active)]);
        var atB = new OwnershipView("b", ring);
        foreach (var user in Users.Where(u => ring.OwnerOf(u)!.NodeId == "b"))
        {
            Assert.That(atB.TargetOwner(user)!.NodeId, Is.AnyOf("a", "c"), "out of the target ring");
            Assert.That(atB.RedirectFor(user), Is.Not.Null, "new connections go to the target owner");
            Assert.That(atB.OwnsEither(user), Is.True, "it still does work for them (dual writes, fencing)");
            Assert.That(atB.PushOwners(user).Target, Is.Not.Null, "pushes go to both");
        }

        Assert.That(Users.All(u => atB.TargetOwner(u)!.NodeId != "b"), Is.True);
    }

    [Test]
    public void An_empty_ring_lets_a_node_serve_everyone()
    {
        var view = new OwnershipView("a", RingSnapshot.Empty);
        Assert.That(view.IsEmpty && view.RedirectFor("anyone") is null && view.OwnsEither("anyone") && view.PushOwners("anyone").Current is null, Is.True);
    }

    [Test]
    public void A_node_alone_that_drains_has_no_target_to_move_to_and_keeps_its_users()
    {
        var view = new OwnershipView("a", new RingSnapshot(3, [Node("a", NodeState.Draining)]));
        Assert.That(view.RedirectFor("anyone"), Is.Null, "the target ring falls back to the serving nodes");
    }
}
