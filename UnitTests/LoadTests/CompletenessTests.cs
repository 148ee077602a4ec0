using System.Diagnostics;
using ChatNode.LoadTests.Engine;
using ChatNode.LoadTests.Reports;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.LoadTests;

[TestFixture]
[Fast]
public sealed class CompletenessTests
{
    [Test]
    public void A_lost_delivery_is_reported_with_its_message_and_recipient()
    {
        var completeness = new Completeness();
        completeness.Expect("m1", ["bob/phone", "carol/phone"]);
        completeness.Expect("m2", ["bob/phone"]);
        completeness.Received("bob/phone", "m1");
        completeness.Received("bob/phone", "m2");
        Assert.That(completeness.IsComplete, Is.False);
        Assert.That(completeness.Lost(), Is.EqualTo(new[] { ("m1", "carol/phone") }));

        completeness.Received("carol/phone", "m1");
        Assert.That(completeness.IsComplete, Is.True);
        Assert.That(completeness.Lost(), Is.Empty);
    }

    [Test]
    public void A_delivery_seen_twice_is_reported_as_duplicated()
    {
        var completeness = new Completeness();
        completeness.Expect("m1", ["bob/phone"]);
        completeness.Received("bob/phone", "m1");
        completeness.Received("bob/phone", "m1");
        Assert.That(completeness.Duplicated(), Is.EqualTo(new[] { ("m1", "bob/phone", 2) }));
    }

    [Test]
    public void A_delivery_of_a_send_reported_as_failed_is_reported()
    {
        var completeness = new Completeness();
        completeness.Failed("c1");
        completeness.Received("bob/phone", "m1", "c2");
        Assert.That(completeness.FailedButDelivered(), Is.Empty);
        completeness.Received("bob/phone", "m3", "c1");
        Assert.That(completeness.FailedButDelivered(), Is.EqualTo(new[] { ("c1", "bob/phone") }));
    }

    [Test]
    public void Deliveries_before_their_confirmation_still_count()
    {
        var completeness = new Completeness();
        completeness.Received("bob/phone", "m1");
        completeness.Expect("m1", ["bob/phone"]);
        Assert.That(completeness.IsComplete, Is.True);
    }

    [Test]
    public void Statistics_count_rates_per_second_and_exclude_warmup_from_latency()
    {
        var stats = new RunStats { Measuring = false };
        var oneMsAgo = Stopwatch.GetTimestamp() - (Stopwatch.Frequency / 1000);
        stats.RecordSent();
        stats.RecordAck(oneMsAgo);
        stats.RecordDelivery(oneMsAgo);
        Assert.That(stats.DeliveryLatency.TotalCount, Is.Zero, "warm-up is not measured");

        stats.Measuring = true;
        for (var i = 0; i < 99; i++)
        {
            stats.RecordSent();
            stats.RecordAck(oneMsAgo);
            stats.RecordDelivery(oneMsAgo);
        }

        stats.RecordSent();
        stats.RecordFailed();
        Assert.Multiple(() =>
        {
            Assert.That((stats.Sent, stats.Acked, stats.Failed, stats.Delivered, stats.InFlight), Is.EqualTo((101L, 100L, 1L, 100L, 0L)));
            Assert.That(stats.DeliveryLatency.TotalCount, Is.EqualTo(99));
            Assert.That(RunStats.Milliseconds(stats.DeliveryLatency.GetValueAtPercentile(50)), Is.GreaterThanOrEqualTo(1.0));
            Assert.That(stats.Steps.Sum(s => s.DeliveredCount), Is.EqualTo(100));
            Assert.That(stats.Steps.Sum(s => s.FailedCount), Is.EqualTo(1));
        });
    }

    [Test]
    public void Latency_summaries_and_comparisons_are_computed_from_the_histograms()
    {
        var stats = new RunStats();
        var now = Stopwatch.GetTimestamp();
        foreach (var ms in Enumerable.Range(1, 100))
        {
            stats.DeliveryLatency.RecordValue(ms * Stopwatch.Frequency / 1000);
        }

        var summary = LatencySummary.Of(stats.DeliveryLatency);
        Assert.That(summary.P50, Is.EqualTo(50).Within(0.5));
        Assert.That(summary.P99, Is.EqualTo(99).Within(0.5));
        Assert.That(summary.Max, Is.EqualTo(100).Within(0.5));

        var a = Report(deliveredPerSecond: 1000);
        var b = Report(deliveredPerSecond: 1500);
        Assert.That(Compare.Render(a, b), Does.Contain("delivered/s").And.Contain("1.50"));
        Assert.That(RunReport.FromJson(b.ToJson()).DeliveredPerSecond, Is.EqualTo(1500));
        Assert.That(HtmlReport.Render(b), Does.Contain("<svg").And.Contain("Complete"));
        _ = now;
    }

    [Test]
    public void The_load_tools_own_collections_inside_a_window_are_counted_by_generation_and_reported()
    {
        var start = GeneratorGc.Now();
        var collectionsBefore = GC.CollectionCount(0);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        GC.Collect(0, GCCollectionMode.Forced, blocking: true);
        var window = GeneratorGc.Now() - start;
        var collections = GC.CollectionCount(0) - collectionsBefore;
        Assert.Multiple(() =>
        {
            // Other tests may collect meanwhile, and the runtime may collect an older generation than asked: at least
            // the full collection, each collection counted once in its own generation, and the pause they took.
            Assert.That(window.Gen2, Is.GreaterThanOrEqualTo(1));
            Assert.That(window.Gen0 + window.Gen1 + window.Gen2, Is.EqualTo(collections).And.GreaterThanOrEqualTo(2));
            Assert.That(window.PauseMs, Is.GreaterThan(0));
        });

        var report = Report(deliveredPerSecond: 1000) with { GeneratorGc = new GeneratorGc(212.5, 3, 1, 0) };
        Assert.That(RunReport.FromJson(report.ToJson()).GeneratorGc, Is.EqualTo(new GeneratorGc(212.5, 3, 1, 0)));
        Assert.That(HtmlReport.Render(report), Does.Contain("load tool GC pauses").And.Contain("212.5 ms (3 / 1 / 0)"));
    }

    private static RunReport Report(double deliveredPerSecond) => new(
        "direct", "ws://127.0.0.1:8080/ws", DateTimeOffset.UnixEpoch, 10, "closed loop", 10, 10, 0, 10, 10, 0, 0, deliveredPerSecond, 1,
        new LatencySummary(1, 1, 1, 1, 1, 1), new LatencySummary(1, 1, 1, 1, 1, 1), new LatencySummary(0, 0, 0, 0, 0, 0), 2, 0,
        [new StepReport(0, 5, 5, 0, 1, 2), new StepReport(1, 5, 5, 0, 1, 3)], [], new Dictionary<string, double>(), []);
}
