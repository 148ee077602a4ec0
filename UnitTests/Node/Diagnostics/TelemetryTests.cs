using System.Diagnostics;
using ChatNode.UnitTests.Infrastructure;
using OpenTelemetry.Trace;

namespace ChatNode.UnitTests.Node.Diagnostics;

[TestFixture]
[Fast]
public sealed class TelemetryTests
{
    [Test]
    public async Task The_metrics_endpoint_exports_the_nodes_instruments_for_prometheus()
    {
        await using var node = await TestNode.StartAsync(backend: StoreBackend.Memory);
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await node.ConnectAsync(alice, "phone");
        await using var b = await node.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);
        await a.SendMessageAsync(chat.ChatId, "counted");
        await ChatAssert.ReceiveAsync(b.Messages, 1, "the message");

        using var http = new HttpClient();
        var text = "";
        await Poll.UntilAsync(async () =>
        {
            text = await http.GetStringAsync(new Uri(node.AdminUrl, "/metrics"));
            return text.Contains("chat_messages_stored_total", StringComparison.Ordinal);
        }, "the scrape to include the stored message");
        Assert.That(text, Does.Contain("# TYPE chat_connections_opened_total counter"));
        Assert.That(text, Does.Match(@"chat_connections_active\{[^}]*\} 2"), "two open connections");
        Assert.That(text, Does.Match(@"chat_delivery_duration_seconds_bucket\{[^}]*le=""0\.005""[^}]*\} \d+"), "delivery latency in seconds, with millisecond buckets");
        Assert.That(text, Does.Contain("chat_requests_total"));
    }

    [Test]
    public async Task A_traced_send_is_one_trace_from_the_send_through_the_peer_hop_to_the_push()
    {
        var spans = new List<Activity>();
        await using var fleet = await TestFleet.StartAsync(2, new Dictionary<string, string?> { ["Telemetry:TraceSampleRatio"] = "1" }, StoreBackend.Memory,
            services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans)));
        var (alice, bob) = (fleet.UserOwnedBy(TestFleet.NodeIdOf(fleet.Nodes[0])), fleet.UserOwnedBy(TestFleet.NodeIdOf(fleet.Nodes[1])));
        await using var a = await fleet.Seed.ConnectAsync(alice, "phone");
        await using var b = await fleet.Seed.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);
        var sent = await a.SendMessageAsync(chat.ChatId, "traced");
        await ChatAssert.ReceiveAsync(b.Messages, 1, "the message across the peer hop");

        Activity? Span(string name)
        {
            lock (spans)
            {
                return spans.FirstOrDefault(s => s.OperationName == name && (name != "chat.send" || (string?)s.GetTagItem("message.id") == sent.MessageId));
            }
        }

        await Poll.UntilAsync(() => Span("chat.send") is not null && Span("peer.deliver") is not null, "the send's span and the peer's span to be exported");
        var send = Span("chat.send")!;
        var deliver = Span("peer.deliver")!;
        Assert.That(deliver.TraceId, Is.EqualTo(send.TraceId), "the peer hop carries the trace (W3C traceparent in the peer delivery)");
        Assert.That(deliver.Kind, Is.EqualTo(ActivityKind.Consumer));
        lock (spans)
        {
            var trace = spans.Where(s => s.TraceId == send.TraceId).Select(s => s.OperationName).ToHashSet();
            Assert.That(trace, Is.SupersetOf(new[] { "chat.send", "store.append", "store.fanout", "peer.deliver", "delivery.push" }));
            var pushAtBob = spans.First(s => s.TraceId == send.TraceId && s.OperationName == "delivery.push" && s.ParentSpanId == deliver.SpanId);
            Assert.That(pushAtBob.GetTagItem("delivery.connections"), Is.EqualTo(1), "bob's push is a child of the peer delivery");
        }
    }
}
