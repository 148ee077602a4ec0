namespace ChatNode.Registry.Ring;

/// <summary>Where a node stands in its life in the fleet (Joining, Active, Draining; a node that left has no record).</summary>
public enum NodeState
{
    /// <summary>Registered and taking over its segments: in the target ring only. Users move to it from their current owners.</summary>
    Joining,
    /// <summary>Owns its share of the ring: in the current and the target ring.</summary>
    Active,
    /// <summary>Leaving: in the current ring only. Its users move to their target owners; it serves until they have.</summary>
    Draining,
}

/// <summary>
/// One registered node. A restarted process is a new member: same <see cref="NodeId"/> (so the same ring segments),
/// new <see cref="Generation"/>. <see cref="ConnectionsLeft"/> is the number of client connections a node still holds
/// while it hands them over (joining nodes report 0), for operators.
/// </summary>
public sealed record NodeInfo(string NodeId, long Generation, string WebSocketUrl, string PeerUrl, NodeState State, int VirtualNodes, int ConnectionsLeft = 0);
