namespace ChatNode.Registry.Ring;

/// <summary>
/// The membership as one etcd revision saw it. <see cref="Current"/> holds the nodes that serve now (active and
/// draining); <see cref="Target"/> the nodes that will serve once transitions finish (active and joining). Outside a
/// transition both own every key the same way. Immutable; a new snapshot replaces it when membership changes, and
/// <see cref="Epoch"/> (the etcd revision) only increases.
/// </summary>
public sealed class RingSnapshot
{
    public RingSnapshot(long epoch, IEnumerable<NodeInfo> members)
    {
        Epoch = epoch;
        Members = members.OrderBy(m => m.NodeId, StringComparer.Ordinal).ToArray();
        var serving = Members.Where(m => m.State is NodeState.Active or NodeState.Draining).ToArray();
        var target = Members.Where(m => m.State is NodeState.Active or NodeState.Joining).ToArray();

        // A fleet that only has joining nodes (first start) serves with them rather than with nobody.
        Current = new HashRing(serving.Length > 0 ? serving : target);
        Target = new HashRing(target.Length > 0 ? target : serving);
    }

    public static RingSnapshot Empty { get; } = new(0, []);

    public long Epoch { get; }

    public IReadOnlyList<NodeInfo> Members { get; }

    public HashRing Current { get; }

    public HashRing Target { get; }

    /// <summary>The node that owns <paramref name="userId"/> now; null on an empty ring.</summary>
    public NodeInfo? OwnerOf(string userId) => Current.OwnerOf(userId);

    /// <summary>The node that will own <paramref name="userId"/> after the transition in progress.</summary>
    public NodeInfo? TargetOwnerOf(string userId) => Target.OwnerOf(userId);

    public NodeInfo? Find(string nodeId) => Members.FirstOrDefault(m => m.NodeId == nodeId);
}
