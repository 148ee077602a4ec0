using ChatNode.Lifecycle;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Connections;

/// <summary>
/// Gives memory back to the system when the node turns quiet after a burst. The GC keeps what a burst made it commit
/// (a connect storm, a replay, a spike of traffic) as free regions and budget, a few KiB per connection a node then
/// holds idle; it does not return them while the allocation rate stays low, because nothing makes it collect. Every
/// <see cref="Period"/> this checks the allocation over the period and the committed memory; when the node allocated
/// less than <see cref="IdleAllocationBytes"/> and at least <see cref="SlackBytes"/> is committed beyond both the heap
/// and what was committed after the last trim, it runs one blocking, compacting collection that decommits what is free
/// (<see cref="GCCollectionMode.Aggressive"/>). It then waits for the next burst: committed memory must grow by
/// <see cref="SlackBytes"/> again before the next trim. Under load it never runs, so it costs the send path nothing.
/// Off with <c>Node:TrimMemoryWhenIdle=false</c>.
/// </summary>
public sealed partial class IdleMemoryTrim : ILifecycleParticipant
{
    /// <summary>How often the allocation rate and committed memory are read.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(30);

    /// <summary>A node that allocated less than this over a <see cref="Period"/> counts as quiet (~2 MiB/s).</summary>
    public const long IdleAllocationBytes = 64L << 20;

    /// <summary>Committed memory beyond the heap and the last trim's level that is worth a collection.</summary>
    public const long SlackBytes = 32L << 20;

    private readonly BackgroundLoop? _loop;
    private readonly Func<MemoryReading> _read;
    private readonly Action _collect;
    private readonly ConnectionMetrics _metrics;
    private readonly ILogger<IdleMemoryTrim> _logger;
    private long _lastAllocated = -1;
    private long _floor;

    public IdleMemoryTrim(IOptions<ConnectionOptions> options, ConnectionMetrics metrics, TimeProvider time, ILogger<IdleMemoryTrim> logger)
        : this(ReadProcess, CollectAggressively, metrics, logger)
    {
        if (options.Value.TrimMemoryWhenIdle)
        {
            _loop = BackgroundLoop.Every(Period, time, _ =>
            {
                TrimIfIdle();
                return Task.CompletedTask;
            });
        }
    }

    internal IdleMemoryTrim(Func<MemoryReading> read, Action collect, ConnectionMetrics metrics, ILogger<IdleMemoryTrim> logger)
    {
        _read = read;
        _collect = collect;
        _metrics = metrics;
        _logger = logger;
    }

    public LifecycleStage Stage => LifecycleStage.Background;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop?.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _loop?.StopAsync() ?? Task.CompletedTask;

    /// <summary>
    /// One check: trims if the node was quiet since the last check and holds a burst's worth of free committed memory.
    /// The first check after start only takes the allocation count. Returns whether it trimmed.
    /// </summary>
    public bool TrimIfIdle()
    {
        var before = _read();
        var allocated = before.AllocatedBytes - _lastAllocated;
        var first = _lastAllocated < 0;
        _lastAllocated = before.AllocatedBytes;
        _floor = Math.Min(_floor, before.CommittedBytes);
        if (first || allocated >= IdleAllocationBytes
            || before.CommittedBytes - before.HeapBytes < SlackBytes
            || before.CommittedBytes - _floor < SlackBytes)
        {
            return false;
        }

        var started = Environment.TickCount64;
        _collect();
        var after = _read();
        _lastAllocated = after.AllocatedBytes;
        _floor = after.CommittedBytes;
        var released = Math.Max(0, before.CommittedBytes - after.CommittedBytes);
        _metrics.MemoryTrimmed(released);
        Trimmed(_logger, before.CommittedBytes >> 20, after.CommittedBytes >> 20, Environment.TickCount64 - started);
        return true;
    }

    internal static MemoryReading ReadProcess()
    {
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        return new MemoryReading(GC.GetTotalAllocatedBytes(), info.TotalCommittedBytes, info.HeapSizeBytes);
    }

    internal static void CollectAggressively() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    [LoggerMessage(EventId = 1701, Level = LogLevel.Information,
        Message = "Node quiet after a burst: trimmed committed memory from {BeforeMiB} MiB to {AfterMiB} MiB in {ElapsedMs} ms")]
    private static partial void Trimmed(ILogger logger, long beforeMiB, long afterMiB, long elapsedMs);
}

/// <summary>The GC's counts that <see cref="IdleMemoryTrim"/> decides on.</summary>
/// <param name="AllocatedBytes">Bytes allocated since the process started.</param>
/// <param name="CommittedBytes">Memory the GC has committed.</param>
/// <param name="HeapBytes">The heap's size after the last collection, fragmentation included.</param>
internal readonly record struct MemoryReading(long AllocatedBytes, long CommittedBytes, long HeapBytes);
