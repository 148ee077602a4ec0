using ChatNode.Registry.Ring;

namespace ChatNode.Fleet;

/// <summary>
/// What the fleet needs to know of the other nodes beyond the ring, answered by the peer streams (<c>Peering/</c>).
/// Thread-safe.
/// </summary>
public interface IPeerDirectory
{
    /// <summary>
    /// False when the node's peer stream is down (its last attempts to open it failed); true when it is open, opening
    /// for the first time, or unknown. A node that is not reachable should not be sent clients.
    /// </summary>
    bool IsReachable(NodeInfo node);

    /// <summary>How many client connections <paramref name="peer"/> still holds for users it is handing over to <paramref name="nodeId"/>.</summary>
    Task<int> HandoffRemainingAsync(NodeInfo peer, string nodeId, CancellationToken cancellationToken);
}
