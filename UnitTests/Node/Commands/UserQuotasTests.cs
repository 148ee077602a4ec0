using ChatNode.Commands;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace ChatNode.UnitTests.Node.Commands;

[TestFixture]
[Fast]
public sealed class UserQuotasTests
{
    private static (UserQuotas Quotas, FakeTimeProvider Clock) Create(int messages = 60, int bytes = 6000, int messagesPerDay = 20_000)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new CommandOptions { UserMessagesPerMinute = messages, UserMessageBytesPerMinute = bytes, UserMessagesPerDay = messagesPerDay };
        return (new UserQuotas(Options.Create(options), clock), clock);
    }

    [Test]
    public void A_minutes_messages_may_come_at_once_then_they_come_at_the_quotas_rate()
    {
        var (quotas, clock) = Create();
        Assert.That(Enumerable.Range(0, 60).All(_ => quotas.TryTake("alice", 10)), Is.True, "a burst of one minute's quota");
        Assert.That(quotas.TryTake("alice", 10), Is.False, "the 61st in the same instant");
        Assert.That(quotas.TryTake("bob", 10), Is.True, "another user has a quota of his own");

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.That(quotas.TryTake("alice", 10), Is.True, "one a second comes back");
        Assert.That(quotas.TryTake("alice", 10), Is.False);

        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.That(Enumerable.Range(0, 61).Count(_ => quotas.TryTake("alice", 10)), Is.EqualTo(60), "refilled up to one minute's quota, not more");
    }

    [Test]
    public void Bytes_are_counted_apart_and_a_refused_message_takes_nothing()
    {
        var (quotas, clock) = Create(messages: 600, bytes: 6000);
        Assert.That(quotas.TryTake("alice", 5000), Is.True);
        Assert.That(quotas.TryTake("alice", 2000), Is.False, "over the byte quota");
        Assert.That(quotas.TryTake("alice", 1000), Is.True, "the refused message took nothing");
        Assert.That(quotas.TryTake("alice", 1), Is.False);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.That(quotas.TryTake("alice", 3000), Is.True, "half a minute gives back half the bytes");
        Assert.That(quotas.TryTake("alice", 100_000), Is.False, "more than a minute's bytes is never granted");
    }

    [Test]
    public void Buckets_of_users_idle_for_a_minute_are_dropped()
    {
        var (quotas, clock) = Create();
        foreach (var user in Enumerable.Range(0, 100).Select(i => $"user{i}"))
        {
            quotas.TryTake(user, 1);
        }

        Assert.That(quotas.Tracked, Is.EqualTo(100));
        clock.Advance(TimeSpan.FromSeconds(61));
        quotas.TryTake("active", 1);
        Assert.That(quotas.Tracked, Is.EqualTo(1), "only the user who just sent is tracked");
    }

    [Test]
    public void The_days_quota_caps_what_the_minutes_quota_would_let_through_and_is_not_forgotten_after_a_minute()
    {
        var (quotas, clock) = Create(messages: 60, messagesPerDay: 100);
        Assert.That(Enumerable.Range(0, 60).All(_ => quotas.TryTake("alice", 10)), Is.True);
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.That(Enumerable.Range(0, 60).Count(_ => quotas.TryTake("alice", 10)), Is.EqualTo(40), "the minute's bucket is full again, the day's has 40 left");

        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.That(quotas.TryTake("alice", 10), Is.False, "still spent for the day after two idle minutes: the sweep kept alice");
        Assert.That(quotas.Tracked, Is.EqualTo(1));
    }
}
