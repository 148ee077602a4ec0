using ChatNode.Connections;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node.Connections;

[TestFixture]
[Fast]
public sealed class QuietAcksTests
{
    [Test]
    public async Task Acks_that_arrive_during_a_removal_go_together_in_the_next_one()
    {
        var acks = new QuietAcks();
        var removals = new List<string[]>();
        var firstRemoval = new TaskCompletionSource();
        Task Remove(IReadOnlyList<string> ids)
        {
            lock (removals)
            {
                removals.Add([.. ids]);
                return removals.Count == 1 ? firstRemoval.Task : Task.CompletedTask;
            }
        }

        var a = acks.AcknowledgeAsync(["a"], Remove);
        var b = acks.AcknowledgeAsync(["b", "c"], Remove);
        var d = acks.AcknowledgeAsync(["d"], Remove);
        Assert.That(removals, Has.Count.EqualTo(1), "the later acks wait while the first removal is in the store");
        Assert.That(b.IsCompleted || d.IsCompleted, Is.False);

        firstRemoval.SetResult();
        await Task.WhenAll(a, b, d).WaitAsync(Poll.DefaultTimeout);
        Assert.That(removals, Is.EqualTo(new[] { new[] { "a" }, new[] { "b", "c", "d" } }), "one removal for everything that waited");

        await acks.AcknowledgeAsync(["e"], Remove).WaitAsync(Poll.DefaultTimeout);
        Assert.That(removals[^1], Is.EqualTo(new[] { "e" }), "a quiet connection's next ack is removed at once");
    }

    [Test]
    public async Task A_failed_removal_fails_the_acks_it_carried_and_the_next_round_still_runs()
    {
        var acks = new QuietAcks();
        var firstRemoval = new TaskCompletionSource();
        var calls = 0;
        Task Remove(IReadOnlyList<string> ids) => Interlocked.Increment(ref calls) switch
        {
            1 => firstRemoval.Task,
            2 => Task.FromException(new InvalidOperationException("store down")),
            _ => Task.CompletedTask,
        };

        var first = acks.AcknowledgeAsync(["a"], Remove);
        var failed = acks.AcknowledgeAsync(["b"], Remove);
        firstRemoval.SetResult();
        await first.WaitAsync(Poll.DefaultTimeout);
        Assert.That(async () => await failed.WaitAsync(Poll.DefaultTimeout), Throws.InvalidOperationException.With.Message.EqualTo("store down"));

        await acks.AcknowledgeAsync(["c"], Remove).WaitAsync(Poll.DefaultTimeout);
        Assert.That(calls, Is.EqualTo(3));
    }
}
