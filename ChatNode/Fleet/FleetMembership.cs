using ChatNode.Connections;
using ChatNode.Diagnostics;
using ChatNode.Hosting;
using ChatNode.Protocol.V1;
using ChatNode.Registry;
using ChatNode.Registry.Ring;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Fleet;

/// <summary>
/// The node's place in the fleet. Before anything starts it reads the membership (so the first connections are
/// routed by a real ring); once Kestrel listens it registers the node with its advertised URLs; whenever the ring
/// changes it redirects the connections of users this node no longer owns (a redirect frame, then close 4000).
/// Deregistration happens first thing on stop (<see cref="ConnectionDrainer"/>), the registry is disposed last.
/// </summary>
internal sealed class FleetMembership : IHostedLifecycleService
{
    private readonly IClusterRegistry _registry;
    private readonly Ownership _ownership;
    private readonly ConnectionRegistry _connections;
    private readonly IServer _server;
    private readonly ChatNodeOptions _options;
    private readonly RegistryOptions _registryOptions;
    private readonly ILogger<FleetMembership> _logger;
    private readonly ChatMetrics _metrics;

    public FleetMembership(
        IClusterRegistry registry,
        Ownership ownership,
        ConnectionRegistry connections,
        IServer server,
        IOptions<ChatNodeOptions> options,
        IOptions<RegistryOptions> registryOptions,
        ChatMetrics metrics,
        ILogger<FleetMembership> logger)
    {
        _metrics = metrics;
        _registry = registry;
        _ownership = ownership;
        _connections = connections;
        _server = server;
        _options = options.Value;
        _registryOptions = registryOptions.Value;
        _logger = logger;
    }

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        _registry.Changed += OnRingChanged;
        await _registry.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        // Kestrel lists its addresses in the order the listeners were configured: WebSocket first, then peer.
        var addresses = _server.Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
        var webSocketUrl = _options.PublicUrl is { Length: > 0 } publicUrl ? publicUrl : ToWebSocketUrl(addresses.ElementAtOrDefault(0) ?? _options.Listen);
        var peerUrl = _options.PeerPublicUrl is { Length: > 0 } peerPublic ? peerPublic : ToReachable(addresses.ElementAtOrDefault(1) ?? _options.PeerListen);
        var self = new NodeInfo(_ownership.NodeId, _ownership.Generation, webSocketUrl, peerUrl, NodeState.Active, _registryOptions.VirtualNodes);
        // Ready (and rebalancing) only once the registry lists this node, or its start timeout passed.
        await _registry.RegisterAsync(self, cancellationToken).ConfigureAwait(false);
        _ownership.Self = self;
        ChatLog.Joined(_logger, self.NodeId, self.WebSocketUrl, self.PeerUrl, _registry.Current.Epoch);
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        _registry.Changed -= OnRingChanged;
        await _registry.DisposeAsync().ConfigureAwait(false);
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
            ChatLog.Rebalanced(_logger, moved, snapshot.Epoch);
        }
    }

    /// <summary>Tells the client where its user lives now and closes with <see cref="CloseCode.Redirect"/>.</summary>
    internal static void Redirect(ClientConnection connection, NodeInfo owner)
    {
        connection.Send(new OutboundFrame(RedirectFrame(owner)));
        connection.Close(CloseCode.Redirect, "user owned by " + owner.NodeId);
    }

    /// <summary>The redirect push that sends a client to <paramref name="owner"/>.</summary>
    internal static ServerFrame RedirectFrame(NodeInfo owner) =>
        new() { Redirect = new Redirect { Url = owner.WebSocketUrl, NodeId = owner.NodeId } };

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
