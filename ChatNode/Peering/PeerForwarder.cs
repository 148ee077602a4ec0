using ChatNode.Delivery;
using ChatNode.Fleet;
using ChatNode.Lifecycle;
using ChatNode.Registry;
using ChatNode.Registry.Ring;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Peering;

/// <summary>
/// The delivery pipeline's way off this node (<see cref="IRemoteDelivery"/>) and the fleet's view of the other nodes
/// (<see cref="IPeerDirectory"/>): keeps one <see cref="PeerClient"/> per
/// other member of the ring (opened as members appear, closed as they leave or restart with a new generation) and
/// queues each push on its owner's client. Runs at <see cref="LifecycleStage.Peering"/> and owns its clients: every
/// client it retires or holds is awaited on stop. Thread-safe.
/// </summary>
public sealed class PeerForwarder : IRemoteDelivery, IPeerDirectory, ILifecycleParticipant
{
    private readonly IClusterRegistry _registry;
    private readonly Ownership _ownership;
    private readonly PeerAuth _auth;
    private readonly PeerOptions _options;
    private readonly PeerMetrics _metrics;
    private readonly ILogger<PeerForwarder> _logger;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly List<Task> _retiring = [];
    private readonly BackgroundLoop _follow;
    private Dictionary<string, PeerClient> _peers = new(StringComparer.Ordinal);
    private bool _started;
    private bool _stopped;

    public PeerForwarder(IClusterRegistry registry, Ownership ownership, PeerAuth auth, IOptions<PeerOptions> options, PeerMetrics metrics, TimeProvider time, ILogger<PeerForwarder> logger)
    {
        _time = time;
        _registry = registry;
        _ownership = ownership;
        _auth = auth;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _follow = new BackgroundLoop(FollowAsync);
    }

    public LifecycleStage Stage => LifecycleStage.Peering;

    /// <summary>Queues a push for the node that owns its users; false if there is no stream to it.</summary>
    public bool Forward(NodeInfo owner, RemotePush push)
    {
        PeerClient? client;
        lock (_gate)
        {
            if (!_peers.TryGetValue(owner.NodeId, out client) || client.Peer.Generation != owner.Generation)
            {
                client = Sync(_registry.Current) ? _peers.GetValueOrDefault(owner.NodeId) : null;
            }
        }

        if (client is null)
        {
            return false;
        }

        var delivery = new Protocol.Peer.Delivery
        {
            ExcludeUserId = push.Sender.UserId,
            ExcludeClientId = push.Sender.ClientId,
            Frame = UnsafeByteOperations.UnsafeWrap(push.ProtoFrame),
            DeliveryId = push.DeliveryId,
            StoredAtUs = push.StoredAtUs,
            TraceParent = push.TraceParent ?? "",
            Epoch = push.Epoch,
        };
        delivery.UserIds.Add(push.UserIds);
        return client.TryEnqueue(delivery);
    }

    public bool IsReachable(NodeInfo node)
    {
        lock (_gate)
        {
            return !_peers.TryGetValue(node.NodeId, out var client) || client.Peer.Generation != node.Generation || !client.IsDown;
        }
    }

    public Task<int> HandoffRemainingAsync(NodeInfo peer, string nodeId, CancellationToken cancellationToken)
    {
        PeerClient? client;
        lock (_gate)
        {
            client = _peers.TryGetValue(peer.NodeId, out var known) && known.Peer.Generation == peer.Generation ? known : null;
        }

        return client is null
            ? Task.FromException<int>(new InvalidOperationException($"no peer stream to {peer.NodeId} (generation {peer.Generation})"))
            : client.HandoffRemainingAsync(nodeId, cancellationToken);
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
        lock (_gate)
        {
            _started = true;
        }

        OnChanged(_registry.Current);
        _follow.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _follow.StopAsync().ConfigureAwait(false);
        Dictionary<string, PeerClient> peers;
        Task[] retiring;
        lock (_gate)
        {
            _stopped = true;
            peers = _peers;
            _peers = new(StringComparer.Ordinal);
            retiring = [.. _retiring];
            _retiring.Clear();
        }

        await Task.WhenAll(peers.Values.Select(p => p.DisposeAsync().AsTask()).Concat(retiring)).ConfigureAwait(false);
    }

    private async Task FollowAsync(CancellationToken stop)
    {
        await foreach (var snapshot in _registry.WatchAsync(stop).ConfigureAwait(false))
        {
            OnChanged(snapshot);
        }
    }

    private void OnChanged(RingSnapshot snapshot)
    {
        lock (_gate)
        {
            Sync(snapshot);
        }
    }

    // Caller holds _gate. Returns false before start and once stopped. A retired client's loop ends at once
    // (cancelled); its disposal is kept and awaited on stop.
    private bool Sync(RingSnapshot snapshot)
    {
        if (!_started || _stopped)
        {
            return false;
        }

        _retiring.RemoveAll(t => t.IsCompleted);
        var wanted = snapshot.Members.Where(m => m.NodeId != _ownership.NodeId).ToDictionary(m => m.NodeId, StringComparer.Ordinal);
        foreach (var (id, client) in _peers.ToArray())
        {
            if (!wanted.TryGetValue(id, out var member) || member.Generation != client.Peer.Generation || member.PeerUrl != client.Peer.PeerUrl)
            {
                _peers.Remove(id);
                _retiring.Add(client.DisposeAsync().AsTask());
            }
        }

        foreach (var member in wanted.Values)
        {
            if (!_peers.ContainsKey(member.NodeId))
            {
                var client = new PeerClient(member, _ownership.NodeId, _auth, _options.PeerQueueCapacity, _options.PeerBatchSize, _metrics, _logger, _time);
                _peers[member.NodeId] = client;
                client.Start();
            }
        }

        return true;
    }
}
