using ChatNode.Registry.Ring;

namespace ChatNode.Registry;

/// <summary>The membership of a node without etcd: itself alone, owning every user.</summary>
public sealed class StaticRegistry : IClusterRegistry
{
    private readonly RingPublisher _ring = new();

    public RingSnapshot Current => _ring.Current;

    public IAsyncEnumerable<RingSnapshot> WatchAsync(CancellationToken cancellationToken) => _ring.WatchAsync(cancellationToken);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task RegisterAsync(NodeInfo self, CancellationToken cancellationToken)
    {
        _ring.Publish(new RingSnapshot(Current.Epoch + 1, [self]));
        return Task.CompletedTask;
    }

    public Task UpdateAsync(NodeInfo self, CancellationToken cancellationToken)
    {
        _ring.Publish(new RingSnapshot(Current.Epoch + 1, [self]));
        return Task.CompletedTask;
    }

    public Task DeregisterAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync()
    {
        _ring.Complete();
        return ValueTask.CompletedTask;
    }
}
