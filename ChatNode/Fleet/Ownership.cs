using ChatNode.Registry;
using ChatNode.Registry.Ring;
using Microsoft.Extensions.Options;

namespace ChatNode.Fleet;

/// <summary>
/// This node's identity and the <see cref="OwnershipView"/> of the latest ring epoch it has seen. The view is replaced
/// whole on every ring change (<see cref="RingFollower"/>); readers take <see cref="View"/> once and use that snapshot.
/// Thread-safe, lock-free for readers.
/// </summary>
public sealed class Ownership
{
    private readonly object _gate = new();
    private OwnershipView _view;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Ownership(IClusterRegistry registry, IOptions<FleetOptions> options, TimeProvider time)
    {
        NodeId = options.Value.NodeId;
        Generation = time.GetUtcNow().ToUnixTimeMilliseconds();
        _view = new OwnershipView(NodeId, registry.Current);
    }

    public string NodeId { get; }

    /// <summary>Distinguishes this process from earlier ones with the same node id.</summary>
    public long Generation { get; }

    public OwnershipView View => Volatile.Read(ref _view);

    public long Epoch => View.Epoch;

    /// <summary>Makes <paramref name="ring"/> the view; ignored unless it is newer (or the backing store was recreated).</summary>
    internal void Update(RingSnapshot ring)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (ring.Epoch == _view.Epoch && ReferenceEquals(ring, _view.Ring))
            {
                return;
            }

            Volatile.Write(ref _view, new OwnershipView(NodeId, ring));
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    /// <summary>Completes when the view changes after <paramref name="seen"/> (at once if it already has), or the token fires.</summary>
    public Task ChangedAfterAsync(OwnershipView seen, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return !ReferenceEquals(seen, _view) ? Task.CompletedTask : _changed.Task.WaitAsync(cancellationToken);
        }
    }
}
