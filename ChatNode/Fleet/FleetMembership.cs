using ChatNode.Lifecycle;
using ChatNode.Registry;
using ChatNode.Registry.Ring;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Fleet;

/// <summary>
/// The node's registration (<see cref="LifecycleStage.Serve"/>): once Kestrel listens it registers the node with its
/// advertised URLs and takes its users; on stop it is the first to run, so the node leaves the ring before its
/// connections are drained (<see cref="ConnectionDrainer"/>) while Kestrel still serves them.
/// </summary>
internal sealed class FleetMembership : ILifecycleParticipant
{
    private readonly IClusterRegistry _registry;
    private readonly Ownership _ownership;
    private readonly ConnectionDrainer _drainer;
    private readonly IServer _server;
    private readonly FleetOptions _options;
    private readonly RegistryOptions _registryOptions;
    private readonly ILogger<FleetMembership> _logger;

    public FleetMembership(
        IClusterRegistry registry,
        Ownership ownership,
        ConnectionDrainer drainer,
        IServer server,
        IOptions<FleetOptions> options,
        IOptions<RegistryOptions> registryOptions,
        ILogger<FleetMembership> logger)
    {
        _registry = registry;
        _ownership = ownership;
        _drainer = drainer;
        _server = server;
        _options = options.Value;
        _registryOptions = registryOptions.Value;
        _logger = logger;
    }

    public LifecycleStage Stage => LifecycleStage.Serve;

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
        var self = new NodeInfo(_ownership.NodeId, _ownership.Generation, webSocketUrl, peerUrl, NodeState.Active, _registryOptions.VirtualNodes);

        // Ready (and rebalancing) only once the registry lists this node, or its start timeout passed.
        await _registry.RegisterAsync(self, cancellationToken).ConfigureAwait(false);
        _ownership.Self = self;
        FleetLog.Joined(_logger, self.NodeId, self.WebSocketUrl, self.PeerUrl, _registry.Current.Epoch);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Leave the ring first, so that reconnecting clients are routed to the nodes that own their users now; the
        // ring change this causes must not redirect (4000) the connections the drain is about to close (4002).
        _ownership.Leaving = true;
        await _registry.DeregisterAsync(cancellationToken).ConfigureAwait(false);
        await _drainer.DrainAsync(cancellationToken).ConfigureAwait(false);
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
