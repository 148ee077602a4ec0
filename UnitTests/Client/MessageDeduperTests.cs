using ChatNode.Client;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Client;

[TestFixture]
[Fast]
public sealed class MessageDeduperTests
{
    [Test]
    public void An_id_is_new_once_and_forgotten_after_the_window()
    {
        var deduper = new MessageDeduper(2);
        Assert.That(deduper.TryAdd("a"), Is.True);
        Assert.That(deduper.TryAdd("a"), Is.False);
        Assert.That(deduper.TryAdd("b"), Is.True);
        Assert.That(deduper.TryAdd("c"), Is.True);
        Assert.That(deduper.TryAdd("a"), Is.True, "a fell out of the two-id window");
        Assert.That(deduper.TryAdd("c"), Is.False);
    }
}
