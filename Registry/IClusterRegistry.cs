using ChatNode.Registry.Ring;

namespace ChatNode.Registry;

/// <summary>
/// Fleet membership. <see cref="Current"/> is the latest ring snapshot (never null; empty before the first read), and
/// <see cref="WatchAsync"/> streams newer ones to each subscriber on a channel of its own, so a slow or failing
/// subscriber delays and hides nothing from the others. Epochs only increase. While the backing store is unreachable
/// the last snapshot stays in force and registration is retried. Thread-safe.
/// </summary>
public interface IClusterRegistry : IAsyncDisposable
{
    RingSnapshot Current { get; }

    /// <summary>
    /// The current snapshot, then every newer one until <paramref name="cancellationToken"/> is cancelled or the
    /// registry is disposed. A subscriber that falls behind skips to the latest snapshot (each one is complete, so
    /// nothing is lost by skipping). Epochs increase, except after the backing store was recreated from scratch (a new
    /// etcd cluster restarts its revisions): the ring then follows the new store.
    /// </summary>
    IAsyncEnumerable<RingSnapshot> WatchAsync(CancellationToken cancellationToken);

    /// <summary>Starts following the membership; completes after the first snapshot was read (or the start timeout passed).</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Registers this node (under a lease kept alive until <see cref="DeregisterAsync"/>) and keeps it registered.
    /// Completes once the membership lists the node (or the start timeout passed).
    /// </summary>
    Task RegisterAsync(NodeInfo self, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces this node's record (same node id and generation; a new state or progress) under the same lease;
    /// completes once the membership shows the change (or the start timeout passed).
    /// </summary>
    Task UpdateAsync(NodeInfo self, CancellationToken cancellationToken);

    /// <summary>Removes this node from the membership at once (revokes its lease). Idempotent.</summary>
    Task DeregisterAsync(CancellationToken cancellationToken);
}
