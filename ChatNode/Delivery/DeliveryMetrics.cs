using System.Diagnostics.Metrics;
using ChatNode.Diagnostics;

namespace ChatNode.Delivery;

/// <summary>Delivery instruments (meter <c>ChatNode</c>).</summary>
public sealed class DeliveryMetrics
{
    private readonly Counter<long> _pushes;
    private readonly Counter<long> _acks;
    private readonly Histogram<double> _latency;
    private readonly Counter<long> _overflowed;

    public DeliveryMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Telemetry.MeterName);
        _pushes = meter.CreateCounter<long>("chat.deliveries.pushed", "{push}", "Pushes queued to connections, by kind (live, replay, redelivery, resync).");
        _acks = meter.CreateCounter<long>("chat.deliveries.acked", "{delivery}", "Inbox entries acknowledged.");
        _overflowed = meter.CreateCounter<long>("chat.inbox.overflowed", "{client}", "Clients deactivated because their inbox held Node:MaxInboxEntries unacknowledged entries.");
        _latency = meter.CreateHistogram<double>("chat.delivery.duration", "s", "Time from a message being stored to its live push being queued on a recipient connection.");
    }

    public void Pushed(string kind, int count = 1) => _pushes.Add(count, new KeyValuePair<string, object?>("kind", kind));

    public void Acked(int count) => _acks.Add(count);

    public void InboxOverflowed() => _overflowed.Add(1);

    public void Latency(TimeSpan latency) => _latency.Record(Math.Max(0, latency.TotalSeconds));
}
