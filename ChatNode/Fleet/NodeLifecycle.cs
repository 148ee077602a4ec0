using ChatNode.Connections;
using ChatNode.Lifecycle;
using ChatNode.Registry;
using ChatNode.Registry.Ring;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Fleet;

/// <summary>
/// This node's life in the fleet, <c>Joining → Active → Draining → Left</c>, and the only writer of its registry record.
/// At <see cref="LifecycleStage.Serve"/> (Kestrel listens) it registers as Joining with its bound URLs; the current
/// owners of its segments hand their connections over (<see cref="HandoffLoop"/> on their side) and it turns Active once
/// every member reports none left for it, or after <see cref="FleetOptions.JoinTimeout"/>. A drain (SIGTERM, the
/// admin command, the Kubernetes preStop hook) makes it Draining: out of the target ring, so every user moves to its
/// target owner at the handoff pace while the node keeps serving and receiving dual writes; once it holds no
/// connection (or after <see cref="FleetOptions.DrainTimeout"/>) it deregisters (Left) and closes what is left with
/// 4002. Thread-safe; a drain runs once however often it is asked for.
/// </summary>
internal sealed class NodeLifecycle : ILifecycleParticipant
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

    // A record write that etcd has not confirmed by then is given up: a drain goes on without it.
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(5);

    private readonly IClusterRegistry _registry;
    private readonly Ownership _ownership;
    private readonly ConnectionRegistry _connections;
    private readonly HandoffLoop _handoff;
    private readonly ConnectionDrainer _drainer;
    private readonly IPeerDirectory _peers;
    private readonly IServer _server;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly FleetOptions _options;
    private readonly RegistryOptions _registryOptions;
    private readonly TimeProvider _time;
    private readonly ILogger<NodeLifecycle> _logger;
    private readonly BackgroundLoop _activation;
    private readonly object _gate = new();
    private NodeInfo? _self;
    private bool _left;
    private Task? _drain;

    public NodeLifecycle(
        IClusterRegistry registry,
        Ownership ownership,
        ConnectionRegistry connections,
        HandoffLoop handoff,
        ConnectionDrainer drainer,
        IPeerDirectory peers,
        IServer server,
        IHostApplicationLifetime lifetime,
        IOptions<FleetOptions> options,
        IOptions<RegistryOptions> registryOptions,
        FleetMetrics metrics,
        TimeProvider time,
        ILogger<NodeLifecycle> logger)
    {
        _registry = registry;
        _ownership = ownership;
        _connections = connections;
        _handoff = handoff;
        _drainer = drainer;
        _peers = peers;
        _server = server;
        _lifetime = lifetime;
        _options = options.Value;
        _registryOptions = registryOptions.Value;
        _time = time;
        _logger = logger;
        _activation = new BackgroundLoop(ActivateAsync);
        metrics.ObserveState(() => State);
    }

    public LifecycleStage Stage => LifecycleStage.Serve;

    /// <summary>Null until the node registered; <see cref="LeftState"/> once it deregistered.</summary>
    public NodeState? State
    {
        get
        {
            lock (_gate)
            {
                return _left ? LeftState : _self?.State;
            }
        }
    }

    /// <summary>The value of <see cref="State"/> after the node left the fleet (no record in the registry).</summary>
    public const NodeState LeftState = (NodeState)3;

    /// <summary>This node's record as last written.</summary>
    public NodeInfo? Self
    {
        get
        {
            lock (_gate)
            {
                return _self;
            }
        }
    }

    /// <summary>Serving users: registered and not draining.</summary>
    public bool IsServing => State is NodeState.Joining or NodeState.Active;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Kestrel lists its addresses in the order the listeners were configured: WebSocket first, then peer.
        var addresses = _server.Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
        if (addresses.Length < 2 && (_options.PublicUrl.Length == 0 || _options.PeerPublicUrl.Length == 0))
        {
            throw new InvalidOperationException("The server lists no WebSocket and peer addresses; set Node:PublicUrl and Node:PeerPublicUrl.");
        }

        var webSocketUrl = _options.PublicUrl is { Length: > 0 } publicUrl ? publicUrl : ToWebSocketUrl(addresses[0]);
        var peerUrl = _options.PeerPublicUrl is { Length: > 0 } peerPublic ? peerPublic : ToReachable(addresses[1]);
        var self = new NodeInfo(_ownership.NodeId, _ownership.Generation, webSocketUrl, peerUrl, NodeState.Joining, _registryOptions.VirtualNodes);

        // Serving (and ready) once the registry lists this node, or its start timeout passed.
        await _registry.RegisterAsync(self, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _self = self;
        }

        FleetLog.Joined(_logger, self.NodeId, self.WebSocketUrl, self.PeerUrl, _registry.Current.Epoch);
        _activation.Start();
    }

    /// <summary>Drains, deregisters and closes what is left: the node's part of a stop.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => DrainAsync(0, stopNode: false);

    /// <summary>
    /// Starts the drain if it has not started (an admin request); <paramref name="rate"/> connections a second, or the
    /// configured pace when 0. When it is done the node stops. Returns at once; false if the node is not serving.
    /// </summary>
    public bool RequestDrain(int rate)
    {
        if (!IsServing)
        {
            return false;
        }

        _ = DrainAsync(rate, stopNode: true);
        return true;
    }

    // Runs the drain once; every caller gets the same task. A drain the admin asked for stops the node when done.
    private Task DrainAsync(int rate, bool stopNode)
    {
        lock (_gate)
        {
            return _drain ??= RunDrainAsync(rate, stopNode);
        }
    }

    private async Task RunDrainAsync(int rate, bool stopNode)
    {
        await Task.Yield();
        await _activation.StopAsync().ConfigureAwait(false);
        var self = Self;
        if (self is not null)
        {
            var left = _connections.Count;
            FleetLog.Draining(_logger, left, rate > 0 ? rate : _options.HandoffMaxRate);
            _handoff.OverrideRate(rate);
            if (await WriteAsync(self with { State = NodeState.Draining, ConnectionsLeft = left }).ConfigureAwait(false))
            {
                _handoff.Wake();
                await WaitForConnectionsToMoveAsync().ConfigureAwait(false);
            }
            else
            {
                // Nobody learned of the drain (etcd does not answer), so nobody would take the users: close at once.
                FleetLog.DrainUnannounced(_logger, left);
            }

            // Leave the ring: the others stop forwarding to this node and route its users to their new owners.
            await _registry.DeregisterAsync(CancellationToken.None).ConfigureAwait(false);
            lock (_gate)
            {
                _left = true;
            }

            FleetLog.Left(_logger, self.NodeId, _registry.Current.Epoch);
        }

        await _drainer.DrainAsync(CancellationToken.None).ConfigureAwait(false);
        if (stopNode)
        {
            _lifetime.StopApplication();
        }
    }

    // Until no connection is left, or the drain timeout; the record shows how many are left, once a second. A node
    // with nobody left to move its users to (the last one, or one alone) does not wait.
    private async Task WaitForConnectionsToMoveAsync()
    {
        var deadline = _time.GetUtcNow() + _options.DrainTimeout;
        var reported = -1;
        while (_connections.Count is var left && left > 0 && _ownership.View.Ring.Target.Nodes.Any(n => n.NodeId != _ownership.NodeId))
        {
            if (_time.GetUtcNow() >= deadline)
            {
                FleetLog.DrainTimedOut(_logger, left);
                return;
            }

            if (left != reported && Self is { } self)
            {
                reported = left;
                await WriteAsync(self with { ConnectionsLeft = left }).ConfigureAwait(false);
            }

            await Task.Delay(ProgressInterval, _time).ConfigureAwait(false);
        }

        if (Self is { } drained)
        {
            await WriteAsync(drained with { ConnectionsLeft = 0 }).ConfigureAwait(false);
        }
    }

    // Turns Active once no member holds connections of users it is handing over to this node, or at the join timeout.
    private async Task ActivateAsync(CancellationToken stop)
    {
        var deadline = _time.GetUtcNow() + _options.JoinTimeout;
        while (!stop.IsCancellationRequested)
        {
            var (node, remaining) = await FirstHandingOverAsync(stop).ConfigureAwait(false);
            if (remaining == 0 || _time.GetUtcNow() >= deadline)
            {
                if (remaining > 0)
                {
                    FleetLog.JoinTimedOut(_logger, node!, remaining);
                }

                // Until etcd took the record (a write it did not answer is tried again).
                if (Self is not { } self || await WriteAsync(self with { State = NodeState.Active }).ConfigureAwait(false))
                {
                    return;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), _time, stop).ConfigureAwait(false);
        }
    }

    private async Task<(string? Node, int Remaining)> FirstHandingOverAsync(CancellationToken cancellationToken)
    {
        foreach (var member in _ownership.View.Ring.Members)
        {
            if (member.NodeId == _ownership.NodeId || member.State == NodeState.Joining)
            {
                continue;
            }

            try
            {
                var remaining = await _peers.HandoffRemainingAsync(member, _ownership.NodeId, cancellationToken).ConfigureAwait(false);
                if (remaining > 0)
                {
                    return (member.NodeId, remaining);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // A member that does not answer holds nobody it can hand over (its lease will end it): count it as done.
                FleetLog.HandoffStatusFailed(_logger, member.NodeId, ex);
            }
        }

        return (null, 0);
    }

    // Writes the record and waits until the ring shows it (at most WriteTimeout); false if etcd did not take it.
    private async Task<bool> WriteAsync(NodeInfo self)
    {
        NodeState before;
        lock (_gate)
        {
            before = _self!.State;
            _self = self;
        }

        using var timeout = new CancellationTokenSource(WriteTimeout, _time);
        try
        {
            await _registry.UpdateAsync(self, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not InvalidOperationException)
        {
            FleetLog.RecordWriteFailed(_logger, self.State, ex);
            return false;
        }

        if (before != self.State)
        {
            FleetLog.StateChanged(_logger, self.NodeId, self.State, _registry.Current.Epoch);
        }

        return true;
    }

    private static string ToWebSocketUrl(string httpUrl)
    {
        var uri = new UriBuilder(ToReachable(httpUrl)) { Path = "/ws" };
        uri.Scheme = uri.Scheme == "https" ? "wss" : "ws";
        return uri.Uri.ToString();
    }

    // A wildcard bind address means nothing to other machines: advertise the machine name instead (set
    // Node:PublicUrl and Node:PeerPublicUrl where that does not resolve, as in Kubernetes).
    private static string ToReachable(string url)
    {
        var uri = new UriBuilder(url);
        if (uri.Host is "0.0.0.0" or "[::]" or "::" or "*" or "+")
        {
            uri.Host = Environment.MachineName;
        }

        return uri.Uri.ToString().TrimEnd('/');
    }
}
