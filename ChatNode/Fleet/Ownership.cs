using ChatNode.Registry;
using ChatNode.Registry.Ring;
using Microsoft.Extensions.Options;

namespace ChatNode.Fleet;

/// <summary>
/// This node's identity in the fleet and which users it owns. The owner of a user is the first ring point clockwise
/// from the user id's hash in the current ring snapshot (<see cref="HashRing"/>). With no ring yet (etcd not read) a
/// node serves everyone rather than no one. Thread-safe, lock-free.
/// </summary>
public sealed class Ownership
{
    private readonly IClusterRegistry _registry;

    public Ownership(IClusterRegistry registry, IOptions<FleetOptions> options, TimeProvider time)
    {
        _registry = registry;
        NodeId = options.Value.NodeId;
        Generation = time.GetUtcNow().ToUnixTimeMilliseconds();
    }

    public string NodeId { get; }

    /// <summary>Distinguishes this process from earlier ones with the same node id.</summary>
    public long Generation { get; }

    /// <summary>This node as registered (URLs included), once registration happened.</summary>
    public NodeInfo? Self { get; internal set; }

    public RingSnapshot Ring => _registry.Current;

    /// <summary>Set when the node starts stopping: it no longer rebalances its connections (the drain closes them).</summary>
    public bool Leaving { get; internal set; }

    public NodeInfo? OwnerOf(string userId) => _registry.Current.OwnerOf(userId);

    /// <summary>True when this node serves <paramref name="userId"/>; otherwise <paramref name="owner"/> is the node that does.</summary>
    public bool IsLocal(string userId, out NodeInfo? owner)
    {
        owner = _registry.Current.OwnerOf(userId);
        return owner is null || owner.NodeId == NodeId;
    }
}
