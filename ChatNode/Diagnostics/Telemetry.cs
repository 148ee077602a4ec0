using System.Diagnostics;

namespace ChatNode.Diagnostics;

/// <summary>
/// The node's telemetry names. Every feature's metrics class creates its instruments on the one meter named
/// <see cref="MeterName"/> (through <c>IMeterFactory</c>, which hands out the same meter); every feature's log class
/// keeps its event ids in a range of its own; spans come from <see cref="Source"/>.
/// </summary>
public static class Telemetry
{
    /// <summary>The node's meter: instruments named <c>chat.*</c>, exported at <c>/metrics</c> and over OTLP.</summary>
    public const string MeterName = "ChatNode";

    /// <summary>The name of <see cref="Source"/>.</summary>
    public const string SourceName = "ChatNode";

    /// <summary>
    /// The node's spans: one trace per message, from the send through the store and the peer hop to the pushes. With
    /// tracing off nothing listens, and starting a span costs a check.
    /// </summary>
    public static ActivitySource Source { get; } = new(SourceName);

    /// <summary>The W3C traceparent of the current span if it is being recorded (to carry across a node hop); otherwise null.</summary>
    public static string? CurrentTraceParent() => Activity.Current is { Recorded: true } current ? current.Id : null;
}
