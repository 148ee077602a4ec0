using System.Diagnostics.Metrics;

namespace ChatNode.Storage;

/// <summary>Store instruments (meter <c>ChatNode.Storage</c>).</summary>
public sealed class StorageMetrics
{
    public const string MeterName = "ChatNode.Storage";

    private readonly Histogram<double> _duration;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _full;
    private readonly Histogram<double> _replicaWait;
    private readonly Histogram<long> _replicaBatch;

    public StorageMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _duration = meter.CreateHistogram<double>(
            "chat.store.duration", unit: "s", description: "Duration of store operations, retries and replica acknowledgement included.");
        _retries = meter.CreateCounter<long>("chat.store.retries", unit: "{retry}", description: "Store operations retried after a transient failure.");
        _failures = meter.CreateCounter<long>("chat.store.failures", unit: "{operation}", description: "Store operations that failed after their retry budget.");
        _full = meter.CreateCounter<long>("chat.store.full", unit: "{operation}", description: "Store operations refused because the store is at its memory limit.");
        _replicaWait = meter.CreateHistogram<double>("chat.store.replica_wait.duration", unit: "s", description: "Duration of one WAIT for replica acknowledgement, per master.");
        _replicaBatch = meter.CreateHistogram<long>("chat.store.replica_wait.callers", unit: "{caller}", description: "Writes covered by one WAIT (group commit size).");
    }

    public void RecordOperation(string operation, TimeSpan duration, bool ok)
    {
        var tag = new KeyValuePair<string, object?>("operation", operation);
        _duration.Record(duration.TotalSeconds, tag);
        if (!ok)
        {
            _failures.Add(1, tag);
        }
    }

    public void RecordReplicaWait(TimeSpan duration, int callers)
    {
        _replicaWait.Record(duration.TotalSeconds);
        _replicaBatch.Record(callers);
    }

    public void RecordFull(string operation) => _full.Add(1, new KeyValuePair<string, object?>("operation", operation));

    public void RecordRetry(string operation) => _retries.Add(1, new KeyValuePair<string, object?>("operation", operation));
}
