using System.Diagnostics.Metrics;
using ChatNode.Diagnostics;

namespace ChatNode.Peering;

/// <summary>Peer stream instruments (meter <c>ChatNode</c>).</summary>
public sealed class PeerMetrics
{
    private readonly Counter<long> _forwarded;
    private readonly Counter<long> _received;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _fenced;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _resyncAsked;

    public PeerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Telemetry.MeterName);
        _forwarded = meter.CreateCounter<long>("chat.peer.forwarded", "{delivery}", "Deliveries sent to other nodes over peer streams.");
        _received = meter.CreateCounter<long>("chat.peer.received", "{delivery}", "Deliveries received from other nodes over peer streams.");
        _dropped = meter.CreateCounter<long>("chat.peer.dropped", "{delivery}", "Deliveries not forwarded because a peer's queue was full (left to the inbox).");
        _refused = meter.CreateCounter<long>("chat.peer.refused", "{call}", "Peer calls refused: bad fleet credentials, or a caller that is not a member of the ring (reason).");
        _resyncAsked = meter.CreateCounter<long>("chat.peer.resync_asked", "{user}", "Users a peer named for an immediate inbox resync: it dropped or lost live pushes for them.");
        _fenced = meter.CreateCounter<long>("chat.peer.fenced", "{user}", "Users of forwarded deliveries refused because this node owns them in neither ring at the sender's epoch.");
    }

    public void Forwarded(int count) => _forwarded.Add(count);

    public void Received(int count) => _received.Add(count);

    public void Dropped(int count) => _dropped.Add(count);

    public void ResyncAsked(int users) => _resyncAsked.Add(users);

    public void Fenced(int users) => _fenced.Add(users);

    public void Refused(string reason) => _refused.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
