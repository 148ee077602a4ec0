using ChatNode.Registry.Ring;

namespace ChatNode.Registry;

/// <summary>The membership of a node without etcd: itself alone, owning every user.</summary>
public sealed class StaticRegistry : IClusterRegistry
{
    private RingSnapshot _current = RingSnapshot.Empty;

    public RingSnapshot Current => Volatile.Read(ref _current);

    public event Action<RingSnapshot>? Changed;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task RegisterAsync(NodeInfo self, CancellationToken cancellationToken)
    {
        Publish(new RingSnapshot(1, [self]));
        return Task.CompletedTask;
    }

    public Task SetStateAsync(NodeState state, CancellationToken cancellationToken)
    {
        if (Current.Members is [var self, ..])
        {
            Publish(new RingSnapshot(Current.Epoch + 1, [self with { State = state }]));
        }

        return Task.CompletedTask;
    }

    public Task DeregisterAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private void Publish(RingSnapshot snapshot)
    {
        Volatile.Write(ref _current, snapshot);
        Changed?.Invoke(snapshot);
    }
}
