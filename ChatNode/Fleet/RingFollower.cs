using ChatNode.Lifecycle;
using ChatNode.Registry;
using ChatNode.Registry.Ring;
using Microsoft.Extensions.Logging;

namespace ChatNode.Fleet;

/// <summary>
/// Follows the fleet's membership (<see cref="LifecycleStage.Membership"/>): starts the registry before anything routes
/// users, makes each new ring snapshot this node's <see cref="OwnershipView"/>, and wakes the <see cref="HandoffLoop"/>
/// to move the connections the change misplaced. Disposes the registry last on stop.
/// </summary>
internal sealed class RingFollower : ILifecycleParticipant
{
    private readonly IClusterRegistry _registry;
    private readonly Ownership _ownership;
    private readonly HandoffLoop _handoff;
    private readonly ILogger<RingFollower> _logger;
    private readonly BackgroundLoop _loop;

    public RingFollower(IClusterRegistry registry, Ownership ownership, HandoffLoop handoff, ILogger<RingFollower> logger)
    {
        _registry = registry;
        _ownership = ownership;
        _handoff = handoff;
        _logger = logger;
        _loop = new BackgroundLoop(FollowAsync);
    }

    public LifecycleStage Stage => LifecycleStage.Membership;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _registry.StartAsync(cancellationToken).ConfigureAwait(false);
        _ownership.Update(_registry.Current);
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
                Follow(snapshot);
            }
            catch (Exception ex)
            {
                FleetLog.FollowFailed(_logger, snapshot.Epoch, ex);
            }
        }
    }

    private void Follow(RingSnapshot snapshot)
    {
        _ownership.Update(snapshot);
        _handoff.Wake();
    }
}
