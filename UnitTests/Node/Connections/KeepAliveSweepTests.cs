using ChatNode.Connections;
using ChatNode.Protocol;
using ChatNode.Storage;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace ChatNode.UnitTests.Node.Connections;

/// <summary>The node-wide keep-alive walk, on a fake clock and fake transports.</summary>
[TestFixture]
[Fast]
public sealed class KeepAliveSweepTests
{
    private static readonly ConnectionMetrics Metrics = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly ConnectionOptions _options = new() { KeepAliveInterval = TimeSpan.FromSeconds(20), KeepAliveTimeout = TimeSpan.FromSeconds(10) };

    [Test]
    public void A_silent_connection_is_pinged_once_an_interval_and_aborted_once_the_timeout_passed_too()
    {
        var registry = new ConnectionRegistry();
        var sweep = new KeepAliveSweep(registry, Options.Create(_options), _clock);
        var (talking, talkingTransport) = Open(registry, "alice");
        var (silent, silentTransport) = Open(registry, "bob");
        var (ownTimer, _) = Open(registry, "carol", keepAlive: false);
        Assert.That(sweep.Period, Is.EqualTo(TimeSpan.FromSeconds(2.5)), "a quarter of the shorter of interval and timeout");

        _clock.Advance(TimeSpan.FromSeconds(19));
        Assert.That(sweep.Sweep(CancellationToken.None), Is.EqualTo((0, 0)), "nobody is silent for an interval yet");

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.That(sweep.Sweep(CancellationToken.None), Is.EqualTo((2, 0)), "both silent for an interval: pinged");
        Assert.That(sweep.Sweep(CancellationToken.None), Is.EqualTo((0, 0)), "not again within the interval");

        // alice answers (her pong is bytes received); bob does not.
        talkingTransport.Receive();
        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.That(sweep.Sweep(CancellationToken.None), Is.EqualTo((0, 0)));
        Assert.That(silent.Aborted.IsCancellationRequested, Is.False, "not before interval + timeout");

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.That(sweep.Sweep(CancellationToken.None), Is.EqualTo((0, 1)), "bob silent for interval + timeout");
        Assert.That(silent.Aborted.IsCancellationRequested, Is.True, "a dead peer is aborted");
        Assert.That(talking.Aborted.IsCancellationRequested || ownTimer.Aborted.IsCancellationRequested, Is.False);
        Assert.That(silentTransport.Pings, Is.EqualTo(1));
        Assert.That(talkingTransport.Pings, Is.EqualTo(1));

        _clock.Advance(TimeSpan.FromSeconds(11));
        Assert.That(sweep.Sweep(CancellationToken.None), Is.EqualTo((1, 0)), "alice silent an interval after her pong: pinged again");
        Assert.That(ownTimer.Aborted.IsCancellationRequested, Is.False, "a connection whose WebSocket keeps itself alive is left alone");
    }

    private (ClientConnection Connection, FakeTransport Transport) Open(ConnectionRegistry registry, string user, bool keepAlive = true)
    {
        var transport = new FakeTransport(_clock);
        var connection = new ClientConnection(new FakeWebSocket(), new ClientAddress(user, "phone"), FrameEncoding.Proto, _options, Metrics, _clock, keepAlive ? transport : null);
        registry.Add(connection);
        return (connection, transport);
    }

    private sealed class FakeTransport(TimeProvider clock) : IKeepAliveTransport
    {
        public long LastReceived { get; private set; } = clock.GetTimestamp();

        public long LastPinged { get; private set; }

        public int Pings { get; private set; }

        public void Receive() => LastReceived = clock.GetTimestamp();

        public ValueTask PingAsync(CancellationToken cancellationToken)
        {
            Pings++;
            LastPinged = clock.GetTimestamp();
            return ValueTask.CompletedTask;
        }
    }
}
