using System.Diagnostics.Metrics;
using ChatNode.Diagnostics;
using ChatNode.Registry.Ring;

namespace ChatNode.Fleet;

/// <summary>Fleet instruments (meter <c>ChatNode</c>).</summary>
public sealed class FleetMetrics
{
    private readonly Meter _meter;
    private readonly Counter<long> _redirects;
    private readonly Counter<long> _handedOff;
    private readonly Counter<long> _held;
    private readonly Histogram<double> _holdDuration;

    public FleetMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Telemetry.MeterName);
        _redirects = _meter.CreateCounter<long>("chat.connections.redirected", "{connection}", "Upgrades answered with a redirect to the node that owns the user.");
        _handedOff = _meter.CreateCounter<long>("chat.handoff.moved", "{connection}", "Open connections moved to their user's new owner (redirect and close 4000) by a join or a drain.");
        _held = _meter.CreateCounter<long>("chat.connections.held", "{connection}", "Upgrades held because the user's owner could not be reached.");
        _holdDuration = _meter.CreateHistogram<double>("chat.connections.hold.duration", "s", "How long an upgrade was held for an unreachable owner.");
    }

    public void Redirected() => _redirects.Add(1);

    public void HandedOff() => _handedOff.Add(1);

    public void Held(TimeSpan duration)
    {
        _held.Add(1);
        _holdDuration.Record(duration.TotalSeconds);
    }

    /// <summary>Reports the connections waiting to be handed over.</summary>
    public void ObservePendingHandoffs(Func<int> pending) =>
        _meter.CreateObservableGauge("chat.handoff.pending", pending, "{connection}", "Connections this node still has to move to their users' new owners.");

    /// <summary>Reports this node's state: 0 joining, 1 active, 2 draining, 3 left (absent before it registers).</summary>
    public void ObserveState(Func<NodeState?> state) =>
        _meter.CreateObservableGauge("chat.node.state", () => state() is { } s ? new[] { new Measurement<int>((int)s) } : [], "{state}",
            "This node's state in the fleet: 0 joining, 1 active, 2 draining, 3 left.");
}
