using System.Diagnostics.Metrics;
using ChatNode.Diagnostics;

namespace ChatNode.Connections;

/// <summary>Connection instruments (meter <c>ChatNode</c>).</summary>
public sealed class ConnectionMetrics
{
    private readonly UpDownCounter<long> _active;
    private readonly Counter<long> _opened;
    private readonly Counter<long> _closed;
    private readonly Counter<long> _evicted;
    private readonly Counter<long> _connectsLimited;
    private readonly Counter<long> _refusedFull;
    private readonly Counter<long> _socketsRejected;
    private readonly Counter<long> _framesSent;
    private readonly Counter<long> _bytesSent;

    public ConnectionMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Telemetry.MeterName);
        _active = meter.CreateUpDownCounter<long>("chat.connections.active", "{connection}", "Open client WebSocket connections.");
        _opened = meter.CreateCounter<long>("chat.connections.opened", "{connection}", "Client connections accepted.");
        _closed = meter.CreateCounter<long>("chat.connections.closed", "{connection}", "Client connections closed, by reason.");
        _evicted = meter.CreateCounter<long>("chat.connections.evicted", "{connection}", "Connections closed as slow consumers.");
        _connectsLimited = meter.CreateCounter<long>("chat.connections.rate_limited", "{connection}", "Connects refused with 429 because their client connected too often.");
        _refusedFull = meter.CreateCounter<long>("chat.connections.refused_full", "{connection}", "Upgrades refused with 503 because the node held Node:MaxConnections connections.");
        _socketsRejected = meter.CreateCounter<long>("chat.connections.sockets_rejected", "{socket}", "Sockets of the client listener closed as soon as accepted because it held its socket limit.");
        _framesSent = meter.CreateCounter<long>("chat.frames.sent", "{frame}", "Frames written to client sockets.");
        _bytesSent = meter.CreateCounter<long>("chat.frames.sent.bytes", "By", "Bytes of frames written to client sockets.");
    }

    public void Opened()
    {
        _active.Add(1);
        _opened.Add(1);
    }

    public void Closed(string reason)
    {
        _active.Add(-1);
        _closed.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void SlowConsumerEvicted() => _evicted.Add(1);

    public void ConnectRateLimited() => _connectsLimited.Add(1);

    public void RefusedFull() => _refusedFull.Add(1);

    public void SocketRejected() => _socketsRejected.Add(1);

    public void FrameSent(int bytes)
    {
        _framesSent.Add(1);
        _bytesSent.Add(bytes);
    }
}
