using ChatNode.Protocol.V1;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

[TestFixture]
public sealed class RateLimitTests
{
    [Test]
    public async Task Requests_beyond_the_burst_are_refused_with_rate_limited_and_the_connection_stays_open()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["Node:RequestsPerSecond"] = "10",
            ["Node:RequestBurst"] = "5",
        });
        await using var socket = await RawSocket.ConnectAsync(node.WsUrl, node.Token(TestEnvironment.NewId("eager"), "phone"));
        for (ulong id = 1; id <= 30; id++)
        {
            await socket.SendAsync(new ClientFrame { RequestId = id, Ping = new Ping() });
        }

        var outcomes = new Dictionary<ulong, ServerFrame.BodyOneofCase>();
        while (outcomes.Count < 30)
        {
            var frame = await socket.ReceiveAsync();
            Assert.That(frame, Is.Not.Null, $"closed after {outcomes.Count} results");
            if (frame!.RequestId != 0)
            {
                outcomes[frame.RequestId] = frame.BodyCase;
                if (frame.BodyCase == ServerFrame.BodyOneofCase.Error)
                {
                    Assert.That(frame.Error.Code, Is.EqualTo(ErrorCode.RateLimited));
                }
            }
        }

        var limited = outcomes.Values.Count(b => b == ServerFrame.BodyOneofCase.Error);
        Assert.That(limited, Is.GreaterThanOrEqualTo(20), "a burst of 5 at 10/s cannot serve 30 requests sent at once");
        Assert.That(outcomes.Values.Count(b => b == ServerFrame.BodyOneofCase.Pong), Is.GreaterThanOrEqualTo(5));

        // Tokens refill: a later request is served.
        await Poll.UntilAsync(async () =>
        {
            await socket.SendAsync(new ClientFrame { RequestId = 99, Ping = new Ping() });
            return (await socket.ResultAsync(99)).BodyCase == ServerFrame.BodyOneofCase.Pong;
        }, "the rate limit to admit a request again");
    }

    [Test]
    public async Task A_large_frame_costs_a_token_per_started_4_KiB()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["Node:RequestsPerSecond"] = "1",
            ["Node:RequestBurst"] = "20",
        });
        await using var socket = await RawSocket.ConnectAsync(node.WsUrl, node.Token(TestEnvironment.NewId("large"), "phone"));

        // Ten frames of 12 KiB and a bit (four tokens each) against a burst of 20: five are served, the rest refused;
        // ten small ones would all have been.
        var text = new string('x', 12 * 1024);
        for (ulong id = 1; id <= 10; id++)
        {
            await socket.SendAsync(new ClientFrame { RequestId = id, SendMessage = new SendMessage { ChatId = "AAAAAAAAAAAAAAAAAAAAAA", ClientMessageId = $"m{id}", Text = text } });
        }

        // Refusals are answered at once, the others when processed: in any order.
        var results = new Dictionary<ulong, ServerFrame>();
        while (results.Count < 10)
        {
            var frame = await socket.ReceiveAsync();
            Assert.That(frame, Is.Not.Null, $"closed after {results.Count} results");
            if (frame!.RequestId != 0)
            {
                results[frame.RequestId] = frame;
            }
        }

        var limited = results.Values.Count(r => r.BodyCase == ServerFrame.BodyOneofCase.Error && r.Error.Code == ErrorCode.RateLimited);

        Assert.That(limited, Is.InRange(4, 6), "20 tokens pay for five frames of four tokens");
    }
}
