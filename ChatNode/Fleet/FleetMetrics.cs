using System.Diagnostics.Metrics;
using ChatNode.Diagnostics;

namespace ChatNode.Fleet;

/// <summary>Fleet instruments (meter <c>ChatNode</c>).</summary>
public sealed class FleetMetrics
{
    private readonly Counter<long> _redirects;

    public FleetMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Telemetry.MeterName);
        _redirects = meter.CreateCounter<long>("chat.connections.redirected", "{connection}", "Connections sent to the node that owns their user.");
    }

    public void Redirected() => _redirects.Add(1);
}
