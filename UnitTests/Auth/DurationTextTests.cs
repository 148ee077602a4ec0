using ChatNode.Auth;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Auth;

[TestFixture]
[Fast]
public sealed class DurationTextTests
{
    [TestCase("90s", 90)]
    [TestCase("30m", 1800)]
    [TestCase("24h", 86400)]
    [TestCase("1.5d", 129600)]
    [TestCase("0s", 0)]
    public void Durations_parse(string text, int seconds)
    {
        Assert.That(DurationText.TryParse(text, out var duration), Is.True);
        Assert.That(duration, Is.EqualTo(TimeSpan.FromSeconds(seconds)));
    }

    [TestCase("10")]
    [TestCase("-5m")]
    [TestCase("5w")]
    [TestCase("")]
    [TestCase("s")]
    public void Bad_durations_are_refused(string text) => Assert.That(DurationText.TryParse(text, out _), Is.False);
}
