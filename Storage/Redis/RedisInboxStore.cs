using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary>
/// <see cref="IInboxStore"/> on Redis Cluster: one sorted set per client, member = delivery id, score = the item's
/// chat-clock time in microseconds (exact in a double until the year 2255). The key's TTL slides with every add;
/// entries older than the message TTL are trimmed on read.
/// </summary>
internal sealed class RedisInboxStore : IInboxStore
{
    private readonly IConnectionMultiplexer _connection;
    private readonly RedisRetry _retry;
    private readonly ReplicaAcknowledger _replicas;
    private readonly RedisStoreOptions _options;
    private readonly TimeProvider _time;

    public RedisInboxStore(IConnectionMultiplexer connection, RedisRetry retry, ReplicaAcknowledger replicas, IOptions<RedisStoreOptions> options, TimeProvider time)
    {
        _connection = connection;
        _retry = retry;
        _replicas = replicas;
        _options = options.Value;
        _time = time;
    }

    private IDatabase Db => _connection.GetDatabase();

    public Task AddAsync(IReadOnlyCollection<ClientAddress> clients, InboxEntry entry, CancellationToken cancellationToken)
    {
        if (clients.Count == 0)
        {
            return Task.CompletedTask;
        }

        return _retry.RunAsync("inbox.add", async () =>
        {
            // One batch: the client writes all commands to each master in one go instead of contending for
            // the connection once per command.
            var batch = Db.CreateBatch();
            var keys = new RedisKey[clients.Count];
            var writes = new Task[clients.Count * 2];
            var i = 0;
            foreach (var client in clients)
            {
                var key = RedisKeys.Inbox(client);
                keys[i / 2] = key;
                writes[i++] = batch.SortedSetAddAsync(key, entry.DeliveryId, entry.Score);
                writes[i++] = batch.KeyExpireAsync(key, _options.MessageTtl);
            }

            batch.Execute();
            await Task.WhenAll(writes).ConfigureAwait(false);
            await _replicas.EnsureAsync(keys).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<InboxEntry>> ReadAsync(ClientAddress client, long fromScore, int limit, CancellationToken cancellationToken) =>
        _retry.RunAsync("inbox.read", async () =>
        {
            var key = RedisKeys.Inbox(client);
            var expiredBefore = (_time.GetUtcNow().ToUnixTimeMilliseconds() * 1000) - (long)(_options.MessageTtl.TotalMilliseconds * 1000);
            var db = Db;
            _ = db.SortedSetRemoveRangeByScoreAsync(key, double.NegativeInfinity, expiredBefore, Exclude.Stop, CommandFlags.FireAndForget);
            var entries = await db.SortedSetRangeByScoreWithScoresAsync(key, Math.Max(fromScore, expiredBefore), double.PositiveInfinity, Exclude.None, Order.Ascending, 0, limit)
                .ConfigureAwait(false);
            return (IReadOnlyList<InboxEntry>)entries.Select(e => new InboxEntry((string)e.Element!, (long)e.Score)).ToArray();
        }, cancellationToken);

    public Task<int> RemoveAsync(ClientAddress client, IReadOnlyList<string> deliveryIds, CancellationToken cancellationToken) =>
        _retry.RunAsync("inbox.remove", async () =>
        {
            var removed = await Db.SortedSetRemoveAsync(RedisKeys.Inbox(client), [.. deliveryIds.Select(d => (RedisValue)d)]).ConfigureAwait(false);
            return (int)removed;
        }, cancellationToken);
}
