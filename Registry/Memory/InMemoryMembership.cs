using ChatNode.Registry.Ring;

namespace ChatNode.Registry.Memory;

/// <summary>
/// The membership store of in-process fleets, standing in for etcd: member records under leases that expire unless kept
/// alive, and a revision that increases with every change and becomes the ring's epoch. Every
/// <see cref="InMemoryRegistry"/> created from one instance sees the same membership. Time comes from the
/// <see cref="TimeProvider"/> given, so a fake clock drives lease expiry in tests. It passes the registry contract tests
/// that etcd passes. Thread-safe.
/// </summary>
public sealed class InMemoryMembership : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, (NodeInfo Node, DateTimeOffset LeaseExpires)> _members = new(StringComparer.Ordinal);
    private readonly List<RingPublisher> _watchers = [];
    private readonly ITimer _expiry;
    private long _revision;
    private bool _down;

    public InMemoryMembership(TimeProvider? time = null)
    {
        Time = time ?? TimeProvider.System;
        _expiry = Time.CreateTimer(_ => ExpireLeases(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
    }

    public TimeProvider Time { get; }

    /// <summary>A registry (one per node) that reads and writes this membership.</summary>
    public InMemoryRegistry CreateRegistry(TimeSpan leaseTtl) => new(this, leaseTtl);

    /// <summary>
    /// While down (an etcd outage), writes and keep-alives fail and watchers hear nothing; leases keep running out, as
    /// they do on a real etcd that comes back. Back up, watchers receive the membership as it is then.
    /// </summary>
    public bool IsDown
    {
        get
        {
            lock (_gate)
            {
                return _down;
            }
        }

        set
        {
            lock (_gate)
            {
                _down = value;
            }

            if (!value)
            {
                PublishAll();
            }
        }
    }

    public void Dispose() => _expiry.Dispose();

    internal RingSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new RingSnapshot(_revision, _members.Values.Select(m => m.Node));
        }
    }

    internal void Watch(RingPublisher watcher)
    {
        lock (_gate)
        {
            _watchers.Add(watcher);
        }

        watcher.Publish(Snapshot());
    }

    internal void Unwatch(RingPublisher watcher)
    {
        lock (_gate)
        {
            _watchers.Remove(watcher);
        }
    }

    /// <summary>Puts a member's record with a fresh lease; false while down.</summary>
    internal bool Put(NodeInfo node, TimeSpan leaseTtl)
    {
        lock (_gate)
        {
            if (_down)
            {
                return false;
            }

            _members[node.NodeId] = (node, Time.GetUtcNow() + leaseTtl);
            _revision++;
        }

        PublishAll();
        return true;
    }

    /// <summary>Extends a member's lease; false while down or when the record is gone (its lease ran out).</summary>
    internal bool KeepAlive(string nodeId, long generation, TimeSpan leaseTtl)
    {
        lock (_gate)
        {
            if (_down || !_members.TryGetValue(nodeId, out var member) || member.Node.Generation != generation)
            {
                return false;
            }

            _members[nodeId] = (member.Node, Time.GetUtcNow() + leaseTtl);
            return true;
        }
    }

    /// <summary>Deletes a member's record (a revoked lease).</summary>
    internal void Remove(string nodeId, long generation)
    {
        lock (_gate)
        {
            if (_down || !_members.TryGetValue(nodeId, out var member) || member.Node.Generation != generation)
            {
                return;
            }

            _members.Remove(nodeId);
            _revision++;
        }

        PublishAll();
    }

    private void ExpireLeases()
    {
        lock (_gate)
        {
            var now = Time.GetUtcNow();
            var expired = _members.Where(m => m.Value.LeaseExpires <= now).Select(m => m.Key).ToArray();
            if (expired.Length == 0)
            {
                return;
            }

            foreach (var id in expired)
            {
                _members.Remove(id);
            }

            _revision++;
        }

        PublishAll();
    }

    private void PublishAll()
    {
        RingPublisher[] watchers;
        RingSnapshot snapshot;
        lock (_gate)
        {
            if (_down)
            {
                return;
            }

            watchers = [.. _watchers];
            snapshot = new RingSnapshot(_revision, _members.Values.Select(m => m.Node));
        }

        foreach (var watcher in watchers)
        {
            watcher.Publish(snapshot);
        }
    }
}
