using ChatNode.Registry;
using ChatNode.Registry.Ring;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Registry;

/// <summary>
/// What every <see cref="IClusterRegistry"/> backend must do, run against each (etcd, in-memory). Members created in one
/// test share one membership.
/// </summary>
public abstract class ClusterRegistryContractTests
{
    private readonly List<IClusterRegistry> _members = [];

    /// <summary>Lease TTL of the members a test creates.</summary>
    protected static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(2);

    /// <summary>A new member of this test's membership, not yet started.</summary>
    protected abstract IClusterRegistry CreateMember();

    /// <summary>Stops keeping the member's lease alive without revoking it, as a killed process does.</summary>
    protected abstract Task CrashAsync(IClusterRegistry member);

    /// <summary>Lets time pass (a fake clock advances; real time is waited for by the polls).</summary>
    protected abstract void Elapse(TimeSpan time);

    [TearDown]
    public async Task DisposeMembers()
    {
        foreach (var member in _members)
        {
            await member.DisposeAsync();
        }

        _members.Clear();
    }

    protected static NodeInfo Node(string id, long generation = 1) => new(id, generation, $"ws://{id}/ws", $"http://{id}", NodeState.Active, 16);

    private async Task<IClusterRegistry> StartedAsync()
    {
        var member = CreateMember();
        _members.Add(member);
        await member.StartAsync(CancellationToken.None);
        return member;
    }

    [Test]
    public async Task Members_see_each_other_and_compute_the_same_owners()
    {
        var a = await StartedAsync();
        var b = await StartedAsync();
        await a.RegisterAsync(Node("a"), CancellationToken.None);
        Assert.That(a.Current.Find("a"), Is.Not.Null, "registration completes once the membership lists the node");
        await b.RegisterAsync(Node("b"), CancellationToken.None);

        await Poll.UntilAsync(() => a.Current.Members.Count == 2 && b.Current.Members.Count == 2, "both members to list both");
        Assert.That(a.Current.Epoch, Is.EqualTo(b.Current.Epoch), "one membership, one epoch");
        foreach (var user in new[] { "alice", "bob", "carol", "dave" })
        {
            Assert.That(a.Current.OwnerOf(user)!.NodeId, Is.EqualTo(b.Current.OwnerOf(user)!.NodeId), user);
        }
    }

    [Test]
    public async Task A_state_change_reaches_every_member_and_a_deregistered_member_leaves_at_once()
    {
        var a = await StartedAsync();
        var b = await StartedAsync();
        await a.RegisterAsync(Node("a"), CancellationToken.None);
        await b.RegisterAsync(Node("b"), CancellationToken.None);
        await Poll.UntilAsync(() => a.Current.Members.Count == 2, "a to list b");

        await b.UpdateAsync(Node("b") with { State = NodeState.Draining, ConnectionsLeft = 42 }, CancellationToken.None);
        Assert.That(b.Current.Find("b")?.State, Is.EqualTo(NodeState.Draining), "an update completes once the membership shows it");
        Assert.That(b.Current.Find("b")?.ConnectionsLeft, Is.EqualTo(42));
        await Poll.UntilAsync(() => a.Current.Find("b")?.State == NodeState.Draining, "a to see b draining");
        Assert.That(a.Current.Current.Nodes.Select(n => n.NodeId), Is.EquivalentTo(new[] { "a", "b" }), "a draining node still serves");
        Assert.That(a.Current.Target.Nodes.Select(n => n.NodeId), Is.EquivalentTo(new[] { "a" }), "but is out of the target ring");

        await b.DeregisterAsync(CancellationToken.None);
        await Poll.UntilAsync(() => a.Current.Members.Count == 1, "a to drop b after b revoked its lease", TimeSpan.FromSeconds(1.5));
        await b.DeregisterAsync(CancellationToken.None);
    }

    [Test]
    public async Task A_member_that_stops_keeping_its_lease_alive_leaves_within_the_ttl_and_the_others_stay()
    {
        var watcher = await StartedAsync();
        await watcher.RegisterAsync(Node("watcher"), CancellationToken.None);
        var crashing = await StartedAsync();
        await crashing.RegisterAsync(Node("crash"), CancellationToken.None);
        await Poll.UntilAsync(() => watcher.Current.Find("crash") is not null, "the member to appear");

        await CrashAsync(crashing);
        Elapse(LeaseTtl * 2);
        await Poll.UntilAsync(() => watcher.Current.Find("crash") is null, "the lease to expire", LeaseTtl * 5);
        Elapse(LeaseTtl * 2);
        Assert.That(watcher.Current.Find("watcher"), Is.Not.Null, "a member that keeps its lease alive stays");
    }

    [Test]
    public async Task Every_subscriber_gets_the_current_snapshot_then_newer_ones_and_one_that_stops_reading_holds_up_nobody()
    {
        var a = await StartedAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stalled = a.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        Assert.That(await stalled.MoveNextAsync(), Is.True, "the current snapshot comes first");

        var seen = new List<long>();
        var watching = Task.Run(async () =>
        {
            await foreach (var snapshot in a.WatchAsync(cancel.Token))
            {
                lock (seen)
                {
                    seen.Add(snapshot.Epoch);
                }

                if (snapshot.Members.Count == 3)
                {
                    return;
                }
            }
        });

        await a.RegisterAsync(Node("a"), CancellationToken.None);
        var b = await StartedAsync();
        await b.RegisterAsync(Node("b"), CancellationToken.None);
        var c = await StartedAsync();
        await c.RegisterAsync(Node("c"), CancellationToken.None);
        await Poll.WithinAsync(watching.ContinueWith(_ => true), "a reading subscriber to see all three members while another never reads");
        lock (seen)
        {
            Assert.That(seen, Is.Ordered.Ascending);
            Assert.That(seen.Distinct().Count(), Is.EqualTo(seen.Count), "epochs only move forward");
        }

        Assert.That(await stalled.MoveNextAsync(), Is.True, "the stalled subscriber resumes");
        Assert.That(stalled.Current.Members, Has.Count.EqualTo(3), "at the latest snapshot, skipping those it missed");
        await cancel.CancelAsync();
        await stalled.DisposeAsync();
    }

    [Test]
    public async Task A_restarted_node_is_a_new_member_generation_under_the_same_id()
    {
        var watcher = await StartedAsync();
        var first = await StartedAsync();
        await first.RegisterAsync(Node("n", generation: 1), CancellationToken.None);
        await Poll.UntilAsync(() => watcher.Current.Find("n")?.Generation == 1, "generation 1");
        var segment = watcher.Current.OwnerOf("someone")!.NodeId;

        await first.DeregisterAsync(CancellationToken.None);
        var second = await StartedAsync();
        await second.RegisterAsync(Node("n", generation: 2), CancellationToken.None);
        await Poll.UntilAsync(() => watcher.Current.Find("n")?.Generation == 2, "generation 2");
        Assert.That(watcher.Current.OwnerOf("someone")!.NodeId, Is.EqualTo(segment), "the same id gets the same ring segments back");
    }
}
