namespace ChatNode.Registry.Ring;

/// <summary>Where a node stands in the ring's life cycle.</summary>
public enum NodeState
{
    /// <summary>Registered, not yet owning users (reserved for gradual joins; nodes register as active today).</summary>
    Joining,
    /// <summary>Owns its share of the ring.</summary>
    Active,
    /// <summary>Leaving: out of the target ring, still serving until its clients moved.</summary>
    Draining,
}

/// <summary>
/// One registered node. A restarted process is a new member: same <see cref="NodeId"/> (so the same ring segments),
/// new <see cref="Generation"/>.
/// </summary>
public sealed record NodeInfo(string NodeId, long Generation, string WebSocketUrl, string PeerUrl, NodeState State, int VirtualNodes);
