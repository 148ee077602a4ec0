using ChatNode.Registry.Ring;

namespace ChatNode.Registry;

/// <summary>
/// Fleet membership. <see cref="Current"/> is the latest ring snapshot (never null; empty before the first read), and
/// <see cref="Changed"/> is raised with every newer snapshot, in increasing epoch order, on a background thread.
/// While the backing store is unreachable the last snapshot stays in force and registration is retried.
/// Thread-safe.
/// </summary>
public interface IClusterRegistry : IAsyncDisposable
{
    RingSnapshot Current { get; }

    event Action<RingSnapshot>? Changed;

    /// <summary>Starts following the membership; completes after the first snapshot was read (or the start timeout passed).</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Registers this node (under a lease kept alive until <see cref="DeregisterAsync"/>) and keeps it registered.</summary>
    Task RegisterAsync(NodeInfo self, CancellationToken cancellationToken);

    /// <summary>Changes this node's advertised state.</summary>
    Task SetStateAsync(NodeState state, CancellationToken cancellationToken);

    /// <summary>Removes this node from the membership at once (revokes its lease). Idempotent.</summary>
    Task DeregisterAsync(CancellationToken cancellationToken);
}
