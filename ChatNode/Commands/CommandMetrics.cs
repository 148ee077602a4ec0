using System.Diagnostics.Metrics;
using ChatNode.Diagnostics;

namespace ChatNode.Commands;

/// <summary>Request instruments (meter <c>ChatNode</c>).</summary>
public sealed class CommandMetrics
{
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _messagesStored;

    public CommandMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Telemetry.MeterName);
        _requests = meter.CreateCounter<long>("chat.requests", "{request}", "Client requests, by command and outcome.");
        _duration = meter.CreateHistogram<double>("chat.request.duration", "s", "Time from a request frame to its result being queued.");
        _messagesStored = meter.CreateCounter<long>("chat.messages.stored", "{message}", "Messages durably stored (duplicates not counted).");
    }

    public void Request(string command, string outcome, TimeSpan duration)
    {
        _requests.Add(1, new KeyValuePair<string, object?>("command", command), new KeyValuePair<string, object?>("outcome", outcome));
        _duration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("command", command));
    }

    public void MessageStored() => _messagesStored.Add(1);
}
