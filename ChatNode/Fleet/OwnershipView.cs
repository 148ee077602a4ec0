using ChatNode.Registry.Ring;

namespace ChatNode.Fleet;

/// <summary>
/// Who owns which user at one ring epoch, as this node sees it: the current owner (the node that serves the user now,
/// from the current ring: active and draining nodes) and the target owner (where the user belongs once the transitions
/// in progress finish, from the target ring: active and joining nodes). Outside a transition both are the same node.
/// Immutable; <see cref="Ownership"/> swaps in a new view with every ring change. Thread-safe, lock-free.
/// </summary>
public sealed class OwnershipView
{
    public OwnershipView(string selfId, RingSnapshot ring)
    {
        SelfId = selfId;
        Ring = ring;
    }

    public string SelfId { get; }

    public RingSnapshot Ring { get; }

    public long Epoch => Ring.Epoch;

    /// <summary>True before any member registered (no etcd, or etcd not read yet): the node serves everyone.</summary>
    public bool IsEmpty => Ring.Members.Count == 0;

    public NodeInfo? CurrentOwner(string userId) => Ring.Current.OwnerOf(userId);

    public NodeInfo? TargetOwner(string userId) => Ring.Target.OwnerOf(userId);

    /// <summary>
    /// Where a client of <paramref name="userId"/> belongs: the target owner, so that new connections go where the user
    /// is moving instead of where it is leaving. Null when this node should serve it (it is the target owner, or the
    /// ring is empty).
    /// </summary>
    public NodeInfo? RedirectFor(string userId) => TargetOwner(userId) is { } target && target.NodeId != SelfId ? target : null;

    /// <summary>Whether this node owns the user in its current or its target ring: the only users it does work for.</summary>
    public bool OwnsEither(string userId) =>
        IsEmpty || CurrentOwner(userId)?.NodeId == SelfId || TargetOwner(userId)?.NodeId == SelfId;

    /// <summary>
    /// The nodes a live push for <paramref name="userId"/> goes to: the current owner and, while the user moves, the
    /// target owner too (dual write). One node outside a transition; none on an empty ring (the caller serves locally).
    /// </summary>
    public (NodeInfo? Current, NodeInfo? Target) PushOwners(string userId)
    {
        var current = CurrentOwner(userId);
        var target = TargetOwner(userId);
        return (current, target is not null && target.NodeId != current?.NodeId ? target : null);
    }
}
