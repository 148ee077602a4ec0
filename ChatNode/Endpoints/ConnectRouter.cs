using System.Globalization;
using ChatNode.Fleet;
using ChatNode.Registry.Ring;
using Microsoft.Extensions.Options;

namespace ChatNode.Endpoints;

/// <summary>
/// Decides at the upgrade whether this node serves a user or sends the client to the user's target owner (where the user
/// belongs once the ring's transitions finish). Two waits keep a client from bouncing between nodes: a client that
/// arrives from a redirect names the ring epoch it was sent by, and a node whose view is older waits (up to
/// <see cref="EpochWait"/>) to catch up; and a node does not send a client to an owner it cannot reach (its peer stream
/// is down, its lease not yet expired), but holds the upgrade until the ring changes or the owner answers again, at
/// most <see cref="FleetOptions.UnreachableOwnerHold"/>, then serves or redirects once. Thread-safe.
/// </summary>
public sealed class ConnectRouter
{
    /// <summary>The query parameter a redirected client passes the redirect's epoch in.</summary>
    public const string EpochParameter = "ring_epoch";

    internal static readonly TimeSpan EpochWait = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RecheckReachability = TimeSpan.FromMilliseconds(200);

    private readonly Ownership _ownership;
    private readonly IPeerDirectory _peers;
    private readonly FleetMetrics _metrics;
    private readonly FleetOptions _options;
    private readonly TimeProvider _time;

    public ConnectRouter(Ownership ownership, IPeerDirectory peers, FleetMetrics metrics, IOptions<FleetOptions> options, TimeProvider time)
    {
        _ownership = ownership;
        _peers = peers;
        _metrics = metrics;
        _options = options.Value;
        _time = time;
    }

    /// <summary>Null when this node serves <paramref name="userId"/>; otherwise the node to redirect to, and the epoch decided by.</summary>
    public async Task<(NodeInfo Owner, long Epoch)?> RouteAsync(string userId, string? requestedEpoch, CancellationToken cancellationToken)
    {
        var view = await CaughtUpAsync(requestedEpoch, cancellationToken).ConfigureAwait(false);
        var target = view.RedirectFor(userId);
        if (target is null || _peers.IsReachable(target))
        {
            return target is null ? null : (target, view.Epoch);
        }

        var started = _time.GetTimestamp();
        var deadline = _time.GetUtcNow() + _options.UnreachableOwnerHold;
        while (target is not null && !_peers.IsReachable(target) && _time.GetUtcNow() < deadline)
        {
            using var recheck = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            await Task.WhenAny(_ownership.ChangedAfterAsync(view, recheck.Token), Task.Delay(RecheckReachability, _time, recheck.Token)).ConfigureAwait(false);
            await recheck.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            view = _ownership.View;
            target = view.RedirectFor(userId);
        }

        _metrics.Held(_time.GetElapsedTime(started));
        return target is null ? null : (target, view.Epoch);
    }

    // The view, once it is at least as new as the epoch a redirecting node decided by (or EpochWait passed).
    private async Task<OwnershipView> CaughtUpAsync(string? requestedEpoch, CancellationToken cancellationToken)
    {
        var view = _ownership.View;
        if (!long.TryParse(requestedEpoch, NumberStyles.None, CultureInfo.InvariantCulture, out var wanted) || view.Epoch >= wanted)
        {
            return view;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(EpochWait);
        try
        {
            while (view.Epoch < wanted)
            {
                await _ownership.ChangedAfterAsync(view, timeout.Token).ConfigureAwait(false);
                view = _ownership.View;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        return _ownership.View;
    }
}
