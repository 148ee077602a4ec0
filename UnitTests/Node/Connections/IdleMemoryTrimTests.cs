using System.Runtime.CompilerServices;
using ChatNode.Connections;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatNode.UnitTests.Node.Connections;

/// <summary>When the node gives a burst's memory back: on fake GC readings, and once against this process's real GC.</summary>
[TestFixture]
[Fast]
public sealed class IdleMemoryTrimTests
{
    private const long MiB = 1L << 20;

    private static readonly ConnectionMetrics Metrics = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    private MemoryReading _reading;
    private int _collections;
    private MemoryReading _afterCollection;

    [SetUp]
    public void Reset()
    {
        _reading = default;
        _collections = 0;
        _afterCollection = default;
    }

    [Test]
    public void A_quiet_node_holding_a_bursts_free_memory_trims_once_and_again_only_after_the_next_burst()
    {
        var trim = Trim();
        Read(allocated: 1_000 * MiB, committed: 100 * MiB, heap: 80 * MiB);
        Assert.That(trim.TrimIfIdle(), Is.False, "the first check only takes the allocation count");

        // A connect burst: 500 MiB allocated in one period, committed grows to 240 MiB around a 160 MiB heap.
        Read(allocated: 1_500 * MiB, committed: 240 * MiB, heap: 160 * MiB);
        Assert.That(trim.TrimIfIdle(), Is.False, "busy: no collection under load");
        Assert.That(_collections, Is.Zero);

        // Quiet: 10 MiB in the next period.
        _afterCollection = new MemoryReading(1_511 * MiB, 175 * MiB, 160 * MiB);
        Read(allocated: 1_510 * MiB, committed: 240 * MiB, heap: 160 * MiB);
        Assert.That(trim.TrimIfIdle(), Is.True, "quiet with 80 MiB committed beyond the heap");
        Assert.That(_collections, Is.EqualTo(1));

        // Still quiet, and the GC keeps its gen0 budget (15 MiB beyond the heap): nothing more to give back.
        Read(allocated: 1_520 * MiB, committed: 175 * MiB, heap: 160 * MiB);
        Assert.That(trim.TrimIfIdle(), Is.False, "less than the slack beyond the heap");
        Read(allocated: 1_530 * MiB, committed: 200 * MiB, heap: 160 * MiB);
        Assert.That(trim.TrimIfIdle(), Is.False, "40 MiB beyond the heap, but only 25 MiB above the last trim: no new burst");
        Assert.That(_collections, Is.EqualTo(1));

        // The next burst and quiet again.
        Read(allocated: 2_530 * MiB, committed: 260 * MiB, heap: 170 * MiB);
        Assert.That(trim.TrimIfIdle(), Is.False, "busy");
        _afterCollection = new MemoryReading(2_541 * MiB, 185 * MiB, 170 * MiB);
        Read(allocated: 2_540 * MiB, committed: 260 * MiB, heap: 170 * MiB);
        Assert.That(trim.TrimIfIdle(), Is.True, "quiet after the second burst");
        Assert.That(_collections, Is.EqualTo(2));
    }

    [Test]
    public void A_node_that_started_into_its_burst_trims_once_it_is_quiet()
    {
        // The first check comes after the connect storm that followed the start: the memory is committed already.
        var trim = Trim();
        Read(allocated: 900 * MiB, committed: 240 * MiB, heap: 160 * MiB);
        Assert.That(trim.TrimIfIdle(), Is.False, "the first check only takes the allocation count");
        _afterCollection = new MemoryReading(911 * MiB, 175 * MiB, 160 * MiB);
        Read(allocated: 910 * MiB, committed: 240 * MiB, heap: 160 * MiB);
        Assert.That(trim.TrimIfIdle(), Is.True);
        Assert.That(_collections, Is.EqualTo(1));
    }

    [Test]
    public void A_node_whose_committed_memory_is_its_heap_is_never_collected()
    {
        var trim = Trim();
        for (var i = 0; i < 10; i++)
        {
            Read(allocated: i * 10 * MiB, committed: 300 * MiB, heap: 290 * MiB);
            Assert.That(trim.TrimIfIdle(), Is.False);
        }

        Assert.That(_collections, Is.Zero);
    }

    [Test]
    public void The_real_collection_gives_free_committed_memory_back_to_the_system()
    {
        // Whatever earlier tests left committed is given back first, so the burst below is what the check sees.
        IdleMemoryTrim.CollectAggressively();
        var trim = new IdleMemoryTrim(IdleMemoryTrim.ReadProcess, IdleMemoryTrim.CollectAggressively, Metrics, NullLogger<IdleMemoryTrim>.Instance);
        Assert.That(trim.TrimIfIdle(), Is.False, "the first check only takes the allocation count");

        // A burst of large arrays, garbage once it is over; a full collection frees them, as the GC would on its own.
        Burst(256);
        GC.Collect();
        var collected = GC.GetGCMemoryInfo(GCKind.Any);
        Assert.That(trim.TrimIfIdle(), Is.False, "the burst's period was busy");

        var before = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;
        Assert.That(trim.TrimIfIdle(), Is.True, $"quiet with {before / MiB} MiB committed around a {collected.HeapSizeBytes / MiB} MiB heap");
        var after = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;
        Assert.That(before - after, Is.GreaterThan(64 * MiB), $"committed {before / MiB} MiB before, {after / MiB} MiB after");
    }

    // Allocates and drops `mib` MiB of 1 MiB arrays, kept alive together until the end so the GC commits them all.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Burst(int mib)
    {
        var held = new byte[mib][];
        for (var i = 0; i < held.Length; i++)
        {
            held[i] = new byte[MiB];
            held[i][i % 4096] = 1;
        }

        GC.KeepAlive(held);
    }

    private IdleMemoryTrim Trim() =>
        new(() => _reading, () =>
        {
            _collections++;
            _reading = _afterCollection;
        }, Metrics, NullLogger<IdleMemoryTrim>.Instance);

    private void Read(long allocated, long committed, long heap) => _reading = new MemoryReading(allocated, committed, heap);
}
