using ChatNode.Storage;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Storage;

[TestFixture]
[Fast]
public sealed class DeliveryIdTests
{
    [Test]
    public void Message_and_event_ids_round_trip()
    {
        Assert.That(DeliveryId.TryParse(DeliveryId.ForMessage("AbC-_123456789012345678", 42), out var isMessage, out var chat, out var seq), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(isMessage, Is.True);
            Assert.That(chat, Is.EqualTo("AbC-_123456789012345678"));
            Assert.That(seq, Is.EqualTo(42));
        });

        Assert.That(DeliveryId.TryParse(DeliveryId.ForChatEvent("chat", 7), out isMessage, out chat, out var version), Is.True);
        Assert.That((isMessage, chat, version), Is.EqualTo((false, "chat", 7L)));
    }

    [TestCase("")]
    [TestCase("m.")]
    [TestCase("x.chat.1")]
    [TestCase("m.chat.0")]
    [TestCase("m.chat.-1")]
    [TestCase("m.chat.1x")]
    [TestCase("m.a.b.1")]
    [TestCase("m..1")]
    [TestCase("mchat.1")]
    public void Ids_this_node_never_mints_are_refused(string id) =>
        Assert.That(DeliveryId.TryParse(id, out _, out _, out _), Is.False);
}
