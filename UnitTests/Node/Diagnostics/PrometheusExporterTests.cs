using System.Diagnostics.Metrics;
using ChatNode.Diagnostics;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node.Diagnostics;

[TestFixture]
[Fast]
public sealed class PrometheusExporterTests
{
    [Test]
    public void Counters_gauges_and_histograms_are_exported_in_the_text_format()
    {
        var meterName = "Test." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(meterName);
        using var exporter = new PrometheusExporter([meterName]);
        var counter = meter.CreateCounter<long>("chat.things", "{thing}", "Things.");
        var gauge = meter.CreateUpDownCounter<long>("chat.open", "{connection}");
        var histogram = meter.CreateHistogram<double>("chat.wait.duration", "s");

        counter.Add(2, new KeyValuePair<string, object?>("kind", "a\"b"));
        counter.Add(3, new KeyValuePair<string, object?>("kind", "a\"b"));
        gauge.Add(5);
        gauge.Add(-2);
        histogram.Record(0.003);
        histogram.Record(0.2);
        histogram.Record(20);

        var text = exporter.Scrape();
        Assert.That(text, Does.Contain("# TYPE chat_things_total counter"));
        Assert.That(text, Does.Contain("chat_things_total{kind=\"a\\\"b\"} 5"));
        Assert.That(text, Does.Contain("# TYPE chat_open gauge").And.Contain("chat_open 3"));
        Assert.That(text, Does.Contain("# TYPE chat_wait_duration_seconds histogram"));
        Assert.That(text, Does.Contain("chat_wait_duration_seconds_bucket{le=\"0.005\"} 1"));
        Assert.That(text, Does.Contain("chat_wait_duration_seconds_bucket{le=\"0.25\"} 2"));
        Assert.That(text, Does.Contain("chat_wait_duration_seconds_bucket{le=\"+Inf\"} 3"));
        Assert.That(text, Does.Contain("chat_wait_duration_seconds_count 3"));
    }

    [Test]
    public void Meters_not_named_are_not_exported()
    {
        using var meter = new Meter("Other." + Guid.NewGuid().ToString("N"));
        using var exporter = new PrometheusExporter(["Nothing.Here"]);
        meter.CreateCounter<long>("secret.count").Add(1);
        Assert.That(exporter.Scrape(), Does.Not.Contain("secret_count"));
    }
}
