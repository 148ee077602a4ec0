using System.Diagnostics;
using ChatNode.Client;
using ChatNode.Protocol.V1;
using ChatNode.Storage.Redis;
using ChatNode.UnitTests.Infrastructure;
using StackExchange.Redis;

namespace ChatNode.UnitTests.Node;

/// <summary>
/// Store failures on the real Redis Cluster (each master with two replicas): a master lost for good under traffic, and
/// replicas that hang so that a send's outcome is unknown. Runs alone: it takes store nodes down, and puts them back.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class StoreFailoverTests
{
    [SetUp]
    public Task HealthyAsync() => RedisCluster.WaitHealthyAsync(TimeSpan.FromSeconds(60));

    [Test]
    public async Task A_master_lost_for_good_stalls_sends_no_longer_than_its_failover_and_loses_nothing()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["Storage:Redis:RetryBudget"] = "00:00:20" });
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await node.ConnectAsync(alice, "phone", configure: o => o.SendRetryBudget = TimeSpan.FromSeconds(90));
        await using var b = await node.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);

        await using var redis = await RedisCluster.ConnectAdminAsync();
        var (master, replicas) = await RedisCluster.ShardOfAsync(redis, RedisKeys.ChatMeta(chat.ChatId));
        Assert.That(replicas, Has.Length.EqualTo(RedisCluster.ReplicasPerMaster).And.Length.GreaterThanOrEqualTo(2), "two replicas per master");
        var pid = await RedisCluster.ProcessIdAsync(master);
        var conf = RedisCluster.ConfPath(master);

        var confirmed = new List<string>();
        var slowest = TimeSpan.Zero;
        var sender = Task.Run(async () =>
        {
            for (var i = 0; i < 150; i++)
            {
                var started = Stopwatch.GetTimestamp();
                var result = await a.SendMessageAsync(chat.ChatId, $"m{i}");
                lock (confirmed)
                {
                    confirmed.Add(result.MessageId);
                    slowest = Stopwatch.GetElapsedTime(started) > slowest ? Stopwatch.GetElapsedTime(started) : slowest;
                }
            }
        });
        await Poll.UntilAsync(() => Volatile.Read(ref confirmed).Count >= 30 || sender.IsCompleted, "the first 30 messages");

        var killed = Stopwatch.StartNew();
        using (var process = Process.GetProcessById(pid))
        {
            process.Kill();
        }

        try
        {
            // The old master stays down: a promoted replica still has the other one, so writes are acknowledged again.
            await Poll.UntilAsync(async () => (await Task.WhenAll(replicas.Select(RedisCluster.IsMasterAsync))).Any(m => m), "a replica to be promoted", TimeSpan.FromSeconds(30));
            var failover = killed.Elapsed;
            await Poll.WithinAsync(sender.ContinueWith(t => t), "all 150 sends, the old master still down", TimeSpan.FromSeconds(60));
            Assert.That(sender.IsCompletedSuccessfully, Is.True, $"every send was confirmed without the old master: {sender.Exception?.GetBaseException().Message}");
            TestContext.Progress.WriteLine($"failover after {failover.TotalSeconds:0.0} s; slowest send {slowest.TotalSeconds:0.0} s");
            Assert.That(slowest, Is.LessThan(failover + TimeSpan.FromSeconds(2)), "no send waited much longer than the failover itself");
        }
        finally
        {
            // Back as a replica of the promoted one, so that later tests find a whole cluster.
            RedisCluster.Restart(conf);
        }

        var received = await ChatAssert.ReceiveAsync(b.Messages, confirmed.Count, "every confirmed message at bob", TimeSpan.FromSeconds(60));
        Assert.That(received.Select(m => m.MessageId), Is.EquivalentTo(confirmed));
        await RedisCluster.WaitHealthyAsync(TimeSpan.FromSeconds(60));
    }

    [Test]
    public async Task A_send_whose_replicas_hung_is_answered_outcome_unknown_and_its_retry_stores_it_once()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Redis:RetryBudget"] = "00:00:02",
            ["Storage:Redis:ReplicaAckTimeout"] = "00:00:00.500",
        });
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await node.ConnectAsync(alice, "phone");
        await using var b = await node.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);

        // The append goes to the chat's shard; with its replicas hung, its WAIT cannot succeed.
        await using var redis = await RedisCluster.ConnectAdminAsync();
        var (_, replicas) = await RedisCluster.ShardOfAsync(redis, RedisKeys.ChatMeta(chat.ChatId));
        var pids = await Task.WhenAll(replicas.Select(RedisCluster.ProcessIdAsync));
        foreach (var pid in pids)
        {
            RedisCluster.Signal(pid, "STOP");
        }

        ChatErrorException? error;
        try
        {
            var frame = new ClientFrame { SendMessage = new SendMessage { ChatId = chat.ChatId, Text = "hung", ClientMessageId = "c-hung" } };
            error = Assert.ThrowsAsync<ChatErrorException>(() => a.RequestAsync(frame));
        }
        finally
        {
            foreach (var pid in pids)
            {
                RedisCluster.Signal(pid, "CONT");
            }
        }

        Assert.That((error!.Code, error.OutcomeUnknown), Is.EqualTo((ErrorCode.Unavailable, true)), "stored on the master, not acknowledged: unknown");
        var retried = await a.SendMessageAsync(chat.ChatId, "hung", "c-hung");
        var marker = await a.SendMessageAsync(chat.ChatId, "marker");
        // One chat is delivered in order: the marker comes after every copy of the message the app could be shown.
        var received = await ChatAssert.ReceiveAsync(b.Messages, 2, "the message and the marker", TimeSpan.FromSeconds(30));
        Assert.That(received.Select(m => m.MessageId), Is.EqualTo(new[] { retried.MessageId, marker.MessageId }), "stored and shown once, then the marker");
    }
}
