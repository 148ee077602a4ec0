using ChatNode.Connections;
using ChatNode.Protocol;
using ChatNode.Storage;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ChatNode.UnitTests.Node.Connections;

/// <summary>The node's one timer for token expiries, on fake sockets and a fake clock.</summary>
[TestFixture]
[Fast]
public sealed class CloseScheduleTests
{
    private static readonly ConnectionMetrics Metrics = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    // A whole second, so that "due" and "a second late at most" are exact on the fake clock.
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));

    private ClientConnection Connection(string user) =>
        new(new FakeWebSocket(), new ClientAddress(user, "phone"), FrameEncoding.Proto, new ConnectionOptions(), Metrics, _clock);

    [Test]
    public void Each_connection_is_closed_at_its_time_rounded_up_to_the_second_never_before()
    {
        using var schedule = new CloseSchedule(_clock);
        var (early, late, kept) = (Connection("early"), Connection("late"), Connection("kept"));
        var start = _clock.GetUtcNow();
        schedule.Add(late, start.AddSeconds(5), CloseCode.TokenExpired, "token expired");
        schedule.Add(early, start.AddMilliseconds(1_200), CloseCode.TokenExpired, "token expired");
        var registration = schedule.Add(kept, start.AddSeconds(3), CloseCode.TokenExpired, "token expired");
        registration.Dispose();
        Assert.That(schedule.Count, Is.EqualTo(2), "a disposed registration leaves the schedule");

        _clock.Advance(TimeSpan.FromMilliseconds(1_300));
        Assert.That(early.IsClosing, Is.False, "due at 1.2 s, closed at the next whole second, not before");
        _clock.Advance(TimeSpan.FromMilliseconds(700));
        Assert.That((early.IsClosing, early.CloseCode), Is.EqualTo((true, (CloseCode?)CloseCode.TokenExpired)));
        Assert.That(late.IsClosing, Is.False);

        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.That(kept.IsClosing, Is.False, "its registration was disposed");
        Assert.That(late.IsClosing, Is.False, "not before 5 s");
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.That(late.IsClosing, Is.True);
        Assert.That(schedule.Count, Is.Zero);
    }

    [Test]
    public void An_earlier_time_added_later_rearms_the_timer()
    {
        using var schedule = new CloseSchedule(_clock);
        var (first, second) = (Connection("first"), Connection("second"));
        schedule.Add(first, _clock.GetUtcNow().AddMinutes(10), CloseCode.TokenExpired, "token expired");
        schedule.Add(second, _clock.GetUtcNow().AddSeconds(2), CloseCode.TokenExpired, "token expired");

        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.That((second.IsClosing, first.IsClosing), Is.EqualTo((true, false)));
        _clock.Advance(TimeSpan.FromMinutes(10));
        Assert.That(first.IsClosing, Is.True, "the timer was armed again for the next time");
    }
}
