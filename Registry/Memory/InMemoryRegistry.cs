using ChatNode.Registry.Ring;

namespace ChatNode.Registry.Memory;

/// <summary>
/// One node's <see cref="IClusterRegistry"/> over an <see cref="InMemoryMembership"/>: it watches the membership,
/// registers the node under a lease and keeps the lease alive at a third of its TTL (putting the record again when the
/// lease ran out, as the etcd registry does). Thread-safe.
/// </summary>
public sealed class InMemoryRegistry : IClusterRegistry
{
    private readonly InMemoryMembership _membership;
    private readonly TimeSpan _leaseTtl;
    private readonly RingPublisher _ring = new();
    private readonly object _gate = new();
    private NodeInfo? _self;
    private ITimer? _keepAlive;
    private bool _recordStale;
    private bool _watching;

    internal InMemoryRegistry(InMemoryMembership membership, TimeSpan leaseTtl)
    {
        _membership = membership;
        _leaseTtl = leaseTtl;
    }

    public RingSnapshot Current => _ring.Current;

    public IAsyncEnumerable<RingSnapshot> WatchAsync(CancellationToken cancellationToken) => _ring.WatchAsync(cancellationToken);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_watching)
            {
                return Task.CompletedTask;
            }

            _watching = true;
        }

        _membership.Watch(_ring);
        return Task.CompletedTask;
    }

    public Task RegisterAsync(NodeInfo self, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _self = self;
            _keepAlive ??= _membership.Time.CreateTimer(_ => KeepAlive(), null, _leaseTtl / 3, _leaseTtl / 3);
        }

        PutSelf(self);
        return Task.CompletedTask;
    }

    public Task UpdateAsync(NodeInfo self, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_self is null || _self.NodeId != self.NodeId)
            {
                throw new InvalidOperationException("Only the registered node's own record can be updated.");
            }

            _self = self;
        }

        PutSelf(self);
        return Task.CompletedTask;
    }

    public Task DeregisterAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_self is { } self)
            {
                _membership.Remove(self.NodeId, self.Generation);
            }

            _self = null;
            _keepAlive?.Dispose();
            _keepAlive = null;
        }

        return Task.CompletedTask;
    }

    /// <summary>Stops keeping the lease alive without deleting the record, as a killed process does. For fault tests.</summary>
    public void Abandon()
    {
        lock (_gate)
        {
            _self = null;
            _keepAlive?.Dispose();
            _keepAlive = null;
        }

        _membership.Unwatch(_ring);
        _ring.Complete();
    }

    public async ValueTask DisposeAsync()
    {
        await DeregisterAsync(CancellationToken.None).ConfigureAwait(false);
        _membership.Unwatch(_ring);
        _ring.Complete();
    }

    // A record the membership refused (it was down) is put again by the next keep-alive. Membership calls happen under
    // _gate (the membership never calls back), so a keep-alive in flight cannot put a record back after deregistration.
    private void PutSelf(NodeInfo self)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_self, self))
            {
                _recordStale = !_membership.Put(self, _leaseTtl);
            }
        }
    }

    private void KeepAlive()
    {
        lock (_gate)
        {
            // A lease that ran out (the membership was down too long) is granted again with the record put anew.
            if (_self is { } self && (_recordStale || !_membership.KeepAlive(self.NodeId, self.Generation, _leaseTtl)))
            {
                _recordStale = !_membership.Put(self, _leaseTtl);
            }
        }
    }
}
