using ChatNode.Storage;

namespace ChatNode.Connections;

/// <summary>
/// The connections of this node, by user. Sharded by user id so fan-out to different users does not contend on
/// one lock. A user has at most one connection per client id: a newer one replaces the older. Thread-safe.
/// </summary>
public sealed class ConnectionRegistry
{
    private const int ShardCount = 64;
    private readonly Shard[] _shards = Enumerable.Range(0, ShardCount).Select(_ => new Shard()).ToArray();
    private int _count;
    private long _added;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Connections added so far (replacements included): unchanged means no connection is new since a scan.</summary>
    public long Added => Interlocked.Read(ref _added);

    /// <summary>Adds the connection; returns the connection of the same client it replaces, if any.</summary>
    public ClientConnection? Add(ClientConnection connection)
    {
        var shard = ShardOf(connection.Address.UserId);
        lock (shard)
        {
            if (!shard.Users.TryGetValue(connection.Address.UserId, out var list))
            {
                shard.Users[connection.Address.UserId] = list = new List<ClientConnection>(1);
            }

            var index = list.FindIndex(c => c.Address.ClientId == connection.Address.ClientId);
            if (index >= 0)
            {
                var replaced = list[index];
                list[index] = connection;
                Interlocked.Increment(ref _added);
                return replaced;
            }

            list.Add(connection);
            Interlocked.Increment(ref _count);
            // Counted once it is in (a scan that read the count before finds it, or sees the count change).
            Interlocked.Increment(ref _added);
            return null;
        }
    }

    /// <summary>Removes the connection if it is still the registered one for its client.</summary>
    public void Remove(ClientConnection connection)
    {
        var shard = ShardOf(connection.Address.UserId);
        lock (shard)
        {
            if (shard.Users.TryGetValue(connection.Address.UserId, out var list) && list.Remove(connection))
            {
                Interlocked.Decrement(ref _count);
                if (list.Count == 0)
                {
                    shard.Users.Remove(connection.Address.UserId);
                }
            }
        }
    }

    /// <summary>The user's connections now (a copy; empty when none).</summary>
    public ClientConnection[] ForUser(string userId)
    {
        var shard = ShardOf(userId);
        lock (shard)
        {
            return shard.Users.TryGetValue(userId, out var list) ? [.. list] : [];
        }
    }

    public ClientConnection? Find(ClientAddress address)
    {
        foreach (var connection in ForUser(address.UserId))
        {
            if (connection.Address.ClientId == address.ClientId)
            {
                return connection;
            }
        }

        return null;
    }

    /// <summary>
    /// Every connection, one shard at a time (each shard copied when reached): for sweeps over many connections, which
    /// then allocate small arrays instead of one list of them all (on the large-object heap past ~10,000 connections).
    /// A connection added or removed during the walk may or may not be seen.
    /// </summary>
    public IEnumerable<ClientConnection> Walk()
    {
        foreach (var shard in _shards)
        {
            ClientConnection[] copy;
            lock (shard)
            {
                copy = new ClientConnection[shard.Users.Values.Sum(l => l.Count)];
                var i = 0;
                foreach (var list in shard.Users.Values)
                {
                    list.CopyTo(copy, i);
                    i += list.Count;
                }
            }

            foreach (var connection in copy)
            {
                yield return connection;
            }
        }
    }

    /// <summary>Every connection now (a copy).</summary>
    public List<ClientConnection> Snapshot()
    {
        var all = new List<ClientConnection>(Count);
        all.AddRange(Walk());
        return all;
    }

    private Shard ShardOf(string userId) => _shards[(int)((uint)StringComparer.Ordinal.GetHashCode(userId) % ShardCount)];

    private sealed class Shard
    {
        public Dictionary<string, List<ClientConnection>> Users { get; } = new(StringComparer.Ordinal);
    }
}
