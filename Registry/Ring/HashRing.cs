using System.IO.Hashing;
using System.Text;

namespace ChatNode.Registry.Ring;

/// <summary>
/// An immutable consistent hash ring. Each node contributes <see cref="NodeInfo.VirtualNodes"/> points at
/// XxHash64("&lt;nodeId&gt;#&lt;i&gt;"); a key (a user id) hashes with XxHash64 of its UTF-8 bytes and belongs to the
/// first point clockwise, that is the first point whose value is greater than or equal to the key's hash, wrapping
/// past the largest point to the smallest. Points depend on node ids only, so a restarted node gets its segments
/// back. Lookups read two flat sorted arrays without locks. Thread-safe.
/// </summary>
public sealed class HashRing
{
    private readonly ulong[] _points;
    private readonly int[] _owners;

    public HashRing(IEnumerable<NodeInfo> nodes)
    {
        Nodes = nodes.OrderBy(n => n.NodeId, StringComparer.Ordinal).ToArray();
        var points = new List<(ulong Point, int Owner)>();
        for (var owner = 0; owner < Nodes.Count; owner++)
        {
            for (var i = 0; i < Nodes[owner].VirtualNodes; i++)
            {
                points.Add((Hash($"{Nodes[owner].NodeId}#{i}"), owner));
            }
        }

        // Ties (astronomically rare) are broken by node id order, the same on every node.
        points.Sort((a, b) => a.Point != b.Point ? a.Point.CompareTo(b.Point) : a.Owner.CompareTo(b.Owner));
        _points = points.Select(p => p.Point).ToArray();
        _owners = points.Select(p => p.Owner).ToArray();
    }

    /// <summary>The nodes on the ring, ordered by id.</summary>
    public IReadOnlyList<NodeInfo> Nodes { get; }

    public bool IsEmpty => _points.Length == 0;

    /// <summary>The owner of <paramref name="key"/>; null on an empty ring.</summary>
    public NodeInfo? OwnerOf(string key)
    {
        if (_points.Length == 0)
        {
            return null;
        }

        var hash = Hash(key);
        var index = Array.BinarySearch(_points, hash);
        if (index < 0)
        {
            index = ~index;
        }

        return Nodes[_owners[index == _points.Length ? 0 : index]];
    }

    /// <summary>The fraction of the 64-bit key space each node owns (sums to 1).</summary>
    public IReadOnlyDictionary<string, double> Shares()
    {
        var shares = Nodes.ToDictionary(n => n.NodeId, _ => 0.0, StringComparer.Ordinal);
        for (var i = 0; i < _points.Length; i++)
        {
            // The arc (previous point, this point] belongs to this point's owner; the first point also gets the wrap.
            var previous = i == 0 ? _points[^1] : _points[i - 1];
            var arc = unchecked(_points[i] - previous);
            if (_points.Length == 1)
            {
                arc = ulong.MaxValue;
            }

            shares[Nodes[_owners[i]].NodeId] += arc / (double)ulong.MaxValue;
        }

        return shares;
    }

    public static ulong Hash(string key)
    {
        Span<byte> buffer = stackalloc byte[Encoding.UTF8.GetMaxByteCount(Math.Min(key.Length, 256))];
        var bytes = key.Length <= 256 ? buffer[..Encoding.UTF8.GetBytes(key, buffer)] : Encoding.UTF8.GetBytes(key);
        return XxHash64.HashToUInt64(bytes);
    }
}
