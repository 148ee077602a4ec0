namespace ChatNode.Diagnostics;

/// <summary>
/// The node's telemetry names. Every feature's metrics class creates its instruments on the one meter named
/// <see cref="MeterName"/> (through <c>IMeterFactory</c>, which hands out the same meter); every feature's log class
/// keeps its event ids in a range of its own.
/// </summary>
public static class Telemetry
{
    /// <summary>The node's meter: instruments named <c>chat.*</c>, exported at <c>/metrics</c>.</summary>
    public const string MeterName = "ChatNode";
}
