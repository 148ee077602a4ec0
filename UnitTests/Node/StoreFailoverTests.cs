using System.Diagnostics;
using ChatNode.Storage.Redis;
using ChatNode.UnitTests.Infrastructure;
using StackExchange.Redis;

namespace ChatNode.UnitTests.Node;

/// <summary>Kills the Redis master that holds a chat while messages flow. Runs alone: it takes a store node down.</summary>
[TestFixture]
[NonParallelizable]
public sealed class StoreFailoverTests
{
    [Test]
    public async Task Every_message_answered_success_is_delivered_across_a_master_failover()
    {
        await RedisCluster.WaitHealthyAsync(TimeSpan.FromSeconds(30));
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["Storage:Redis:RetryBudget"] = "00:00:20" });
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await node.ConnectAsync(alice, "phone", configure: o => o.SendRetryBudget = TimeSpan.FromSeconds(90));
        await using var b = await node.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);

        await using var redis = await RedisCluster.ConnectAdminAsync();
        var chatKey = RedisKeys.ChatMeta(chat.ChatId);
        var (master, replica) = await RedisCluster.ShardOfAsync(redis, chatKey);
        var pid = await RedisCluster.ProcessIdAsync(master);
        var conf = RedisCluster.ConfPath(master);

        var confirmed = new List<string>();
        var sender = Task.Run(async () =>
        {
            for (var i = 0; i < 150; i++)
            {
                var result = await a.SendMessageAsync(chat.ChatId, $"m{i}");
                lock (confirmed)
                {
                    confirmed.Add(result.MessageId);
                }
            }
        });
        await Poll.UntilAsync(() => Volatile.Read(ref confirmed).Count >= 30 || sender.IsCompleted, "the first 30 messages");

        using (var process = Process.GetProcessById(pid))
        {
            process.Kill();
        }

        try
        {
            // Restart the old master only after its replica took over, so it rejoins as a replica and cannot
            // roll the shard back to its own (older) data.
            await Poll.UntilAsync(() => RedisCluster.IsMasterAsync(replica), $"the replica {replica.EndPoint} to be promoted", TimeSpan.FromSeconds(30));
        }
        finally
        {
            RedisCluster.Restart(conf);
        }

        await Poll.WithinAsync(sender.ContinueWith(t => t), "all 150 sends", TimeSpan.FromSeconds(120));
        Assert.That(sender.IsCompletedSuccessfully, Is.True, $"every send was eventually confirmed: {sender.Exception?.GetBaseException().Message}");

        var received = await ChatAssert.ReceiveAsync(b.Messages, confirmed.Count, "every confirmed message at bob", TimeSpan.FromSeconds(60));
        Assert.That(received.Select(m => m.MessageId), Is.EquivalentTo(confirmed));
        await RedisCluster.WaitHealthyAsync(TimeSpan.FromSeconds(60));
    }
}
