using System.Collections.Concurrent;
using ChatNode.Client;
using ChatNode.Fleet;
using ChatNode.Registry;
using ChatNode.Registry.Ring;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ChatNode.UnitTests.Node.Fleet;

/// <summary>
/// A drain whose <c>Draining</c> record the registry does not take (etcd down): nobody learns that the node leaves, so
/// nobody would take its users. The node must not sit out its drain timeout holding them; it closes them with 4002 at
/// once, and their clients come back (here to the same node, the only owner the others know of).
/// </summary>
[TestFixture]
[Fast]
public sealed class DrainWithoutRegistryTests
{
    [Test]
    public async Task A_drain_the_registry_does_not_hear_of_closes_its_connections_at_once()
    {
        var registries = new ConcurrentQueue<RefusingUpdates>();
        await using var fleet = await TestFleet.StartAsync(2, new Dictionary<string, string?> { ["Node:DrainTimeout"] = "00:01:00" }, StoreBackend.Memory, services =>
        {
            var inner = (IClusterRegistry)services.Last(d => d.ServiceType == typeof(IClusterRegistry)).ImplementationInstance!;
            var refusing = new RefusingUpdates(inner);
            registries.Enqueue(refusing);
            services.Replace(ServiceDescriptor.Singleton<IClusterRegistry>(refusing));
        });
        var draining = fleet.Nodes[1];
        var drainingId = TestFleet.NodeIdOf(draining);
        var closes = new ConcurrentQueue<int?>();
        var clients = new List<ChatClient>();
        for (var i = 0; i < 4; i++)
        {
            var user = fleet.UserOwnedBy(drainingId);
            clients.Add(await draining.ConnectAsync(user, "phone", configure: o => o.OnConnectionChanged = change =>
            {
                if (change.Close is { } close)
                {
                    closes.Enqueue(close.Code);
                }
            }));
        }

        try
        {
            registries.ToArray()[1].Refuse = true;
            var started = DateTime.UtcNow;
            Assert.That(draining.Services.GetRequiredService<NodeLifecycle>().RequestDrain(0), Is.True);

            await Poll.UntilAsync(() => closes.Count >= clients.Count, "every client to be closed", TimeSpan.FromSeconds(20));
            Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(30)), "well before the 60 s drain timeout");
            Assert.That(closes.Take(clients.Count), Is.All.EqualTo(4002), "closed as a shutdown, not handed over");
            Assert.That(draining.Services.GetRequiredService<NodeLifecycle>().State, Is.EqualTo(NodeLifecycle.LeftState));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    /// <summary>A registry whose record updates fail once <see cref="Refuse"/> is set, as when etcd does not answer.</summary>
    private sealed class RefusingUpdates(IClusterRegistry inner) : IClusterRegistry
    {
        public volatile bool Refuse;

        public RingSnapshot Current => inner.Current;

        public IAsyncEnumerable<RingSnapshot> WatchAsync(CancellationToken cancellationToken) => inner.WatchAsync(cancellationToken);

        public Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

        public Task RegisterAsync(NodeInfo self, CancellationToken cancellationToken) => inner.RegisterAsync(self, cancellationToken);

        public Task UpdateAsync(NodeInfo self, CancellationToken cancellationToken) =>
            Refuse ? Task.FromException(new TimeoutException("the registry does not answer")) : inner.UpdateAsync(self, cancellationToken);

        public Task DeregisterAsync(CancellationToken cancellationToken) => inner.DeregisterAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
