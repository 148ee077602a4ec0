using ChatNode.Hosting;

namespace ChatNode.UnitTests.Node.Unit;

[TestFixture]
public sealed class ChatNodeOptionsTests
{
    [Test]
    public void The_defaults_are_valid_and_name_a_node()
    {
        var options = new ChatNodeOptions();
        new ChatNodeOptionsDefaults().PostConfigure(null, options);
        Assert.That(new ChatNodeOptionsValidator().Validate(null, options).Succeeded, Is.True);
        Assert.That(options.NodeId, Is.Not.Empty);
        Assert.That((options.MaxParticipants, options.MaxClientsPerUser), Is.EqualTo((100, 3)));
    }

    [Test]
    public void Inconsistent_limits_are_refused_with_the_setting_named()
    {
        var result = new ChatNodeOptionsValidator().Validate(null, new ChatNodeOptions { MaxTextBytes = 70_000, MaxParticipants = 1, OutboundBudgetBytes = 10 });
        Assert.That(result.Failed, Is.True);
        Assert.That(result.FailureMessage, Does.Contain("MaxTextBytes").And.Contain("MaxParticipants").And.Contain("OutboundBudgetBytes"));
    }

    [TestCase("90s", 90)]
    [TestCase("30m", 1800)]
    [TestCase("24h", 86400)]
    [TestCase("1.5d", 129600)]
    public void Durations_parse(string text, int seconds)
    {
        Assert.That(Program.TryParseDuration(text, TimeSpan.Zero, out var duration), Is.True);
        Assert.That(duration, Is.EqualTo(TimeSpan.FromSeconds(seconds)));
    }

    [TestCase("10")]
    [TestCase("-5m")]
    [TestCase("5w")]
    public void Bad_durations_are_refused(string text) => Assert.That(Program.TryParseDuration(text, TimeSpan.Zero, out _), Is.False);
}
