using System.Diagnostics.Metrics;

namespace ChatNode.Diagnostics;

/// <summary>Node instruments (meter <c>ChatNode</c>), exported at <c>/metrics</c>.</summary>
public sealed class ChatMetrics
{
    public const string MeterName = "ChatNode";

    private readonly UpDownCounter<long> _connectionsActive;
    private readonly Counter<long> _connectionsOpened;
    private readonly Counter<long> _connectionsClosed;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;
    private readonly Counter<long> _messagesStored;
    private readonly Counter<long> _pushes;
    private readonly Counter<long> _acks;
    private readonly Histogram<double> _deliveryLatency;
    private readonly Counter<long> _slowConsumers;
    private readonly Counter<long> _framesSent;
    private readonly Counter<long> _redirects;
    private readonly Counter<long> _peerForwarded;
    private readonly Counter<long> _peerReceived;
    private readonly Counter<long> _peerDropped;
    private readonly Counter<long> _bytesSent;

    public ChatMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _connectionsActive = meter.CreateUpDownCounter<long>("chat.connections.active", "{connection}", "Open client WebSocket connections.");
        _connectionsOpened = meter.CreateCounter<long>("chat.connections.opened", "{connection}", "Client connections accepted.");
        _connectionsClosed = meter.CreateCounter<long>("chat.connections.closed", "{connection}", "Client connections closed, by reason.");
        _requests = meter.CreateCounter<long>("chat.requests", "{request}", "Client requests, by command and outcome.");
        _requestDuration = meter.CreateHistogram<double>("chat.request.duration", "s", "Time from a request frame to its result being queued.");
        _messagesStored = meter.CreateCounter<long>("chat.messages.stored", "{message}", "Messages durably stored (duplicates not counted).");
        _pushes = meter.CreateCounter<long>("chat.deliveries.pushed", "{push}", "Pushes queued to connections, by kind (live, replay, redelivery).");
        _acks = meter.CreateCounter<long>("chat.deliveries.acked", "{delivery}", "Inbox entries acknowledged.");
        _deliveryLatency = meter.CreateHistogram<double>("chat.delivery.duration", "s", "Time from a message being stored to its live push being queued on a recipient connection.");
        _slowConsumers = meter.CreateCounter<long>("chat.connections.evicted", "{connection}", "Connections closed as slow consumers.");
        _redirects = meter.CreateCounter<long>("chat.connections.redirected", "{connection}", "Connections sent to the node that owns their user.");
        _peerForwarded = meter.CreateCounter<long>("chat.peer.forwarded", "{delivery}", "Deliveries sent to other nodes over peer streams.");
        _peerReceived = meter.CreateCounter<long>("chat.peer.received", "{delivery}", "Deliveries received from other nodes over peer streams.");
        _peerDropped = meter.CreateCounter<long>("chat.peer.dropped", "{delivery}", "Deliveries not forwarded because a peer's queue was full (left to the inbox).");
        _framesSent = meter.CreateCounter<long>("chat.frames.sent", "{frame}", "Frames written to client sockets.");
        _bytesSent = meter.CreateCounter<long>("chat.frames.sent.bytes", "By", "Bytes of frames written to client sockets.");
    }

    public void ConnectionOpened()
    {
        _connectionsActive.Add(1);
        _connectionsOpened.Add(1);
    }

    public void ConnectionClosed(string reason)
    {
        _connectionsActive.Add(-1);
        _connectionsClosed.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Request(string command, string outcome, TimeSpan duration)
    {
        _requests.Add(1, new KeyValuePair<string, object?>("command", command), new KeyValuePair<string, object?>("outcome", outcome));
        _requestDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("command", command));
    }

    public void MessageStored() => _messagesStored.Add(1);

    public void Pushed(string kind, int count = 1) => _pushes.Add(count, new KeyValuePair<string, object?>("kind", kind));

    public void Acked(int count) => _acks.Add(count);

    public void DeliveryLatency(TimeSpan latency) => _deliveryLatency.Record(Math.Max(0, latency.TotalSeconds));

    public void SlowConsumerEvicted() => _slowConsumers.Add(1);

    public void Redirected() => _redirects.Add(1);

    public void PeerForwarded(int count) => _peerForwarded.Add(count);

    public void PeerReceived(int count) => _peerReceived.Add(count);

    public void PeerDropped(int count) => _peerDropped.Add(count);

    public void FrameSent(int bytes)
    {
        _framesSent.Add(1);
        _bytesSent.Add(bytes);
    }
}
