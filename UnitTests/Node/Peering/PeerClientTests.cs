using System.Net;
using System.Net.Sockets;
using ChatNode.Auth;
using ChatNode.Peering;
using ChatNode.Registry.Ring;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace ChatNode.UnitTests.Node.Peering;

[TestFixture]
[Fast]
public sealed class PeerClientTests
{
    [Test]
    public async Task A_dead_peer_is_retried_with_growing_delays_and_logged_once()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logger = new RecordingLogger();
        var metrics = new PeerMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var dead = new NodeInfo("dead", 1, "ws://127.0.0.1/ws", $"http://127.0.0.1:{ClosedPort()}", NodeState.Active, 1);
        var auth = new PeerAuth(Options.Create(new AuthOptions { Secret = TestEnvironment.Secret, FleetSecret = TestEnvironment.FleetSecret }));
        var client = new PeerClient(dead, "self", auth, 100, 10, metrics, logger, clock);
        client.Start();
        try
        {
            // Each attempt fails at once (connection refused); the next waits for its backoff on the fake clock, which
            // this loop moves on in 1 s steps, giving each step a moment of real time for an attempt that came due.
            var fakeElapsed = TimeSpan.Zero;
            while (client.FailedAttempts < 8)
            {
                clock.Advance(TimeSpan.FromSeconds(1));
                fakeElapsed += TimeSpan.FromSeconds(1);
                Assert.That(fakeElapsed, Is.LessThan(TimeSpan.FromMinutes(2)), "attempts keep coming");
                var attempts = client.FailedAttempts;
                for (var spin = 0; spin < 20 && client.FailedAttempts == attempts; spin++)
                {
                    await Task.Delay(1);
                }
            }

            var entries = logger.Entries;
            Assert.That(entries.Count(e => e.Level >= LogLevel.Warning), Is.EqualTo(1), "one warning for the outage, not one per attempt");
            var delays = entries.Where(e => e.EventId == 1402).Select(e => Convert.ToInt32(e.Values["DelayMs"], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.That(delays, Has.Length.GreaterThanOrEqualTo(6));
            Assert.That(delays.Max(), Is.GreaterThanOrEqualTo(800), "the delay grows (from 100 ms, doubling with jitter)");
            Assert.That(delays, Is.All.LessThanOrEqualTo(5000), "up to its cap");
            Assert.That(fakeElapsed, Is.GreaterThan(TimeSpan.FromSeconds(1)), "8 attempts took the backoff's time, not 8 x 100 ms");
        }
        finally
        {
            await client.DisposeAsync();
        }
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
