using ChatNode.Client;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Client;

[TestFixture]
[Fast]
public sealed class SeqDedupeTests
{
    private static DedupeKey Message(string chat, ulong seq) => new(chat, DedupeKind.Message, seq);

    [Test]
    public void Each_number_of_a_chat_is_accepted_once_in_any_order_and_kinds_and_chats_do_not_mix()
    {
        var dedupe = new SeqDedupe();
        Assert.That(new ulong[] { 3, 1, 2 }.Select(n => dedupe.TryAccept(Message("c", n))), Is.All.True);
        Assert.That(new ulong[] { 1, 2, 3 }.Select(n => dedupe.TryAccept(Message("c", n))), Is.All.False);
        Assert.That(dedupe.TryAccept(Message("d", 1)), Is.True, "another chat");
        Assert.That(dedupe.TryAccept(new DedupeKey("c", DedupeKind.ChatUpdate, 1)), Is.True, "a chat update of version 1 is not message 1");
    }

    [Test]
    public void Past_the_window_the_floor_rises_and_a_snapshot_restores_what_was_seen()
    {
        var dedupe = new SeqDedupe(window: 3);
        foreach (var n in new ulong[] { 1, 2, 5, 6, 7, 8 })
        {
            Assert.That(dedupe.TryAccept(Message("c", n)), Is.True);
        }

        // The window holds 6, 7, 8; the floor rose to 5.
        Assert.That(dedupe.TryAccept(Message("c", 2)), Is.False, "below the floor: counted as seen");
        Assert.That(dedupe.TryAccept(Message("c", 4)), Is.False, "a gap below the floor is dropped: the window's documented cost");
        var restored = new SeqDedupe(window: 3, restore: dedupe.Snapshot());
        Assert.That(restored.TryAccept(Message("c", 7)), Is.False);
        Assert.That(restored.TryAccept(Message("c", 9)), Is.True);
    }
}
