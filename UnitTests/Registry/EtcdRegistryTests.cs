using ChatNode.Registry;
using ChatNode.Registry.Etcd;
using ChatNode.Registry.Ring;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ChatNode.UnitTests.Registry;

/// <summary>The etcd registry against the real etcd started by scripts/services.sh.</summary>
[TestFixture]
public sealed class EtcdRegistryTests
{
    private static EtcdRegistry Registry(string prefix) => new(
        Options.Create(new RegistryOptions { Endpoints = TestEnvironment.EtcdEndpoint, Prefix = prefix, LeaseTtl = TimeSpan.FromSeconds(2) }),
        NullLogger<EtcdRegistry>.Instance);

    private static NodeInfo Node(string id) => new(id, DateTime.UtcNow.Ticks, $"ws://{id}/ws", $"http://{id}", NodeState.Active, 16);

    [Test]
    public async Task Members_see_each_other_with_increasing_epochs_and_a_revoked_member_leaves_at_once()
    {
        var prefix = $"/chatnode-test/{Guid.NewGuid():N}/";
        await using var a = Registry(prefix);
        await using var b = Registry(prefix);
        var epochs = new List<long>();
        a.Changed += s =>
        {
            lock (epochs)
            {
                epochs.Add(s.Epoch);
            }
        };
        await a.StartAsync(CancellationToken.None);
        await b.StartAsync(CancellationToken.None);
        await a.RegisterAsync(Node("a"), CancellationToken.None);
        await b.RegisterAsync(Node("b"), CancellationToken.None);

        await Poll.UntilAsync(() => a.Current.Members.Count == 2 && b.Current.Members.Count == 2, "both registries to list both members");
        Assert.That(a.Current.OwnerOf("someone")!.NodeId, Is.EqualTo(b.Current.OwnerOf("someone")!.NodeId));

        await b.SetStateAsync(NodeState.Draining, CancellationToken.None);
        await Poll.UntilAsync(() => a.Current.Find("b")?.State == NodeState.Draining, "a to see b draining");

        await b.DeregisterAsync(CancellationToken.None);
        await Poll.UntilAsync(() => a.Current.Members.Count == 1, "a to drop b after b revoked its lease", TimeSpan.FromSeconds(1.5));
        lock (epochs)
        {
            Assert.That(epochs, Is.Ordered.Ascending);
            Assert.That(epochs.Distinct().Count(), Is.EqualTo(epochs.Count), "epochs only move forward");
        }
    }

    [Test]
    public async Task A_member_that_stops_keeping_its_lease_alive_leaves_within_the_ttl()
    {
        var prefix = $"/chatnode-test/{Guid.NewGuid():N}/";
        await using var watcher = Registry(prefix);
        await watcher.StartAsync(CancellationToken.None);
        var crashing = Registry(prefix);
        await crashing.StartAsync(CancellationToken.None);
        await crashing.RegisterAsync(Node("crash"), CancellationToken.None);
        await Poll.UntilAsync(() => watcher.Current.Find("crash") is not null, "the member to appear");

        // Stop the keep-alive without revoking: what a killed process leaves behind.
        await crashing.AbandonForTestsAsync();
        await Poll.UntilAsync(() => watcher.Current.Find("crash") is null, "the lease to expire", TimeSpan.FromSeconds(10));
        await crashing.DisposeAsync();
    }
}
