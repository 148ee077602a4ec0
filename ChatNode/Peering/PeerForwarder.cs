using ChatNode.Auth;
using ChatNode.Diagnostics;
using ChatNode.Fleet;
using ChatNode.Hosting;
using ChatNode.Registry;
using ChatNode.Registry.Ring;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Peering;

/// <summary>
/// Keeps one <see cref="PeerClient"/> per other member of the ring (opened as members appear, closed as they leave
/// or restart with a new generation) and forwards deliveries to the owner's client. Owns the clients: disposes them
/// on stop. Thread-safe.
/// </summary>
public sealed class PeerForwarder : IHostedService, IAsyncDisposable
{
    private readonly IClusterRegistry _registry;
    private readonly Ownership _ownership;
    private readonly PeerAuth _auth;
    private readonly ChatNodeOptions _options;
    private readonly ChatMetrics _metrics;
    private readonly ILogger<PeerForwarder> _logger;
    private readonly object _gate = new();
    private Dictionary<string, PeerClient> _peers = new(StringComparer.Ordinal);
    private bool _stopped;

    public PeerForwarder(IClusterRegistry registry, Ownership ownership, PeerAuth auth, IOptions<ChatNodeOptions> options, ChatMetrics metrics, ILogger<PeerForwarder> logger)
    {
        _registry = registry;
        _ownership = ownership;
        _auth = auth;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Queues a delivery for the node that owns its users; false if there is no stream to it.</summary>
    public bool Forward(NodeInfo owner, Protocol.Peer.Delivery delivery)
    {
        PeerClient? client;
        lock (_gate)
        {
            if (!_peers.TryGetValue(owner.NodeId, out client) || client.Peer.Generation != owner.Generation)
            {
                client = Sync(_registry.Current) ? _peers.GetValueOrDefault(owner.NodeId) : null;
            }
        }

        return client?.TryEnqueue(delivery) ?? false;
    }

    /// <summary>The peer streams now open or opening, by node id.</summary>
    internal IReadOnlyDictionary<string, PeerClient> Peers
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, PeerClient>(_peers, StringComparer.Ordinal);
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _registry.Changed += OnChanged;
        OnChanged(_registry.Current);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _registry.Changed -= OnChanged;
        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        Dictionary<string, PeerClient> peers;
        lock (_gate)
        {
            _stopped = true;
            peers = _peers;
            _peers = new(StringComparer.Ordinal);
        }

        await Task.WhenAll(peers.Values.Select(p => p.DisposeAsync().AsTask())).ConfigureAwait(false);
    }

    private void OnChanged(RingSnapshot snapshot)
    {
        lock (_gate)
        {
            Sync(snapshot);
        }
    }

    // Caller holds _gate. Returns false once stopped. Retired clients are disposed in the background: their loop
    // ends at once (cancelled), and nothing waits on them.
    private bool Sync(RingSnapshot snapshot)
    {
        if (_stopped)
        {
            return false;
        }

        var wanted = snapshot.Members.Where(m => m.NodeId != _ownership.NodeId).ToDictionary(m => m.NodeId, StringComparer.Ordinal);
        foreach (var (id, client) in _peers.ToArray())
        {
            if (!wanted.TryGetValue(id, out var member) || member.Generation != client.Peer.Generation || member.PeerUrl != client.Peer.PeerUrl)
            {
                _peers.Remove(id);
                _ = client.DisposeAsync().AsTask();
            }
        }

        foreach (var member in wanted.Values)
        {
            if (!_peers.ContainsKey(member.NodeId))
            {
                _peers[member.NodeId] = new PeerClient(member, _ownership.NodeId, _auth, _options.PeerQueueCapacity, _options.PeerBatchSize, _metrics, _logger);
            }
        }

        return true;
    }
}
