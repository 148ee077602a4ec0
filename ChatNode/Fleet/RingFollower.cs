using ChatNode.Connections;
using ChatNode.Lifecycle;
using ChatNode.Protocol;
using ChatNode.Registry;
using ChatNode.Registry.Ring;
using Microsoft.Extensions.Logging;

namespace ChatNode.Fleet;

/// <summary>
/// Follows the fleet's membership (<see cref="LifecycleStage.Membership"/>): starts the registry before anything else
/// routes users, and whenever the ring changes redirects the connections of users this node no longer owns (a redirect
/// frame, then close 4000). Disposes the registry last on stop.
/// </summary>
internal sealed class RingFollower : ILifecycleParticipant
{
    private readonly IClusterRegistry _registry;
    private readonly Ownership _ownership;
    private readonly ConnectionRegistry _connections;
    private readonly FleetMetrics _metrics;
    private readonly ILogger<RingFollower> _logger;
    private readonly BackgroundLoop _loop;

    public RingFollower(IClusterRegistry registry, Ownership ownership, ConnectionRegistry connections, FleetMetrics metrics, ILogger<RingFollower> logger)
    {
        _registry = registry;
        _ownership = ownership;
        _connections = connections;
        _metrics = metrics;
        _logger = logger;
        _loop = new BackgroundLoop(FollowAsync);
    }

    public LifecycleStage Stage => LifecycleStage.Membership;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _registry.StartAsync(cancellationToken).ConfigureAwait(false);
        _loop.Start();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _loop.StopAsync().ConfigureAwait(false);
        await _registry.DisposeAsync().ConfigureAwait(false);
    }

    private async Task FollowAsync(CancellationToken stop)
    {
        await foreach (var snapshot in _registry.WatchAsync(stop).ConfigureAwait(false))
        {
            try
            {
                OnRingChanged(snapshot);
            }
            catch (Exception ex)
            {
                FleetLog.RebalanceFailed(_logger, snapshot.Epoch, ex);
            }
        }
    }

    private void OnRingChanged(RingSnapshot snapshot)
    {
        if (_ownership.Self is null || _ownership.Leaving)
        {
            return;
        }

        var moved = 0;
        foreach (var connection in _connections.Snapshot())
        {
            if (!connection.IsClosing && !_ownership.IsLocal(connection.Address.UserId, out var owner) && owner is not null)
            {
                Redirect(connection, owner);
                _metrics.Redirected();
                moved++;
            }
        }

        if (moved > 0)
        {
            FleetLog.Rebalanced(_logger, moved, snapshot.Epoch);
        }
    }

    /// <summary>Tells the client where its user lives now and closes with <see cref="CloseCode.Redirect"/>.</summary>
    internal static void Redirect(ClientConnection connection, NodeInfo owner)
    {
        connection.Send(new OutboundFrame(Frames.Redirect(owner.WebSocketUrl, owner.NodeId)));
        connection.Close(CloseCode.Redirect, "user owned by " + owner.NodeId);
    }
}
