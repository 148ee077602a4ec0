using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary>
/// <see cref="IInboxStore"/> on Redis Cluster: one sorted set per client, member = delivery id, score = the item's
/// chat-clock time in microseconds (exact in a double until the year 2255). The key's TTL slides with every add;
/// entries older than the message TTL are trimmed on read. Acknowledged ids are remembered for
/// <see cref="RedisStoreOptions.AckTombstoneTtl"/> in a second sorted set of the client (same slot), which adds check.
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

    public Task<IReadOnlyList<ClientAddress>> AddAsync(IReadOnlyCollection<ClientAddress> clients, InboxEntry entry, int maxEntries, CancellationToken cancellationToken)
    {
        if (clients.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<ClientAddress>>([]);
        }

        return _retry.RunAsync("inbox.add", async () =>
        {
            // One batch: the client writes all commands to each master in one go instead of contending for
            // the connection once per command.
            var batch = Db.CreateBatch();
            var keys = new RedisKey[clients.Count];
            var targets = new ClientAddress[clients.Count];
            var writes = new Task<RedisResult>[clients.Count];
            var ttl = RedisChatStore.Seconds(_options.MessageTtl);
            var i = 0;
            foreach (var client in clients)
            {
                keys[i] = RedisKeys.Inbox(client);
                targets[i] = client;
                writes[i] = batch.ScriptEvaluateAsync(RedisScripts.AddToInbox, [keys[i], RedisKeys.Acked(client)], [entry.DeliveryId, entry.Score, ttl, maxEntries]);
                i++;
            }

            batch.Execute();
            await Task.WhenAll(writes).ConfigureAwait(false);
            await _replicas.EnsureAsync(keys).ConfigureAwait(false);
            List<ClientAddress>? full = null;
            for (i = 0; i < writes.Length; i++)
            {
                if ((long)writes[i].Result == 2)
                {
                    (full ??= []).Add(targets[i]);
                }
            }

            return (IReadOnlyList<ClientAddress>?)full ?? [];
        }, cancellationToken);
    }

    public Task<IReadOnlyList<ClientAddress>> AddToUsersAsync(IReadOnlyCollection<string> userIds, ClientAddress except, InboxEntry entry, int maxEntries, CancellationToken cancellationToken)
    {
        if (userIds.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<ClientAddress>>([]);
        }

        return _retry.RunAsync("inbox.add", async () =>
        {
            // One script per user, all in one batch: each reads the user's registered clients and writes their inboxes
            // (one slot), so a send needs no separate round trip to list the recipients' clients.
            var batch = Db.CreateBatch();
            var users = userIds as IReadOnlyList<string> ?? userIds.ToArray();
            var keys = new RedisKey[users.Count];
            var writes = new Task<RedisResult>[users.Count];
            var ttl = RedisChatStore.Seconds(_options.MessageTtl);
            for (var i = 0; i < users.Count; i++)
            {
                var user = users[i];
                keys[i] = RedisKeys.UserClients(user);
                writes[i] = batch.ScriptEvaluateAsync(
                    RedisScripts.AddToUserInboxes,
                    [keys[i]],
                    [entry.DeliveryId, entry.Score, ttl, maxEntries, user == except.UserId ? except.ClientId : ""]);
            }

            batch.Execute();
            await Task.WhenAll(writes).ConfigureAwait(false);
            List<RedisKey>? written = null;
            List<ClientAddress>? full = null;
            for (var i = 0; i < writes.Length; i++)
            {
                var reply = (RedisResult[])writes[i].Result!;
                if ((long)reply[0] > 0)
                {
                    (written ??= []).Add(keys[i]);
                }

                for (var j = 1; j < reply.Length; j++)
                {
                    (full ??= []).Add(new ClientAddress(users[i], (string)reply[j]!));
                }
            }

            // Only the masters written wait for their replicas (a sender's user with no other client wrote nothing).
            if (written is not null)
            {
                await _replicas.EnsureAsync(written).ConfigureAwait(false);
            }

            return (IReadOnlyList<ClientAddress>?)full ?? [];
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
            var args = new RedisValue[deliveryIds.Count + 3];
            args[0] = _time.GetUtcNow().ToUnixTimeMilliseconds();
            args[1] = (long)_options.AckTombstoneTtl.TotalMilliseconds;
            args[2] = _options.MaxAckTombstones;
            for (var i = 0; i < deliveryIds.Count; i++)
            {
                args[i + 3] = deliveryIds[i];
            }

            return (int)(long)await Db.ScriptEvaluateAsync(RedisScripts.AcknowledgeInbox, [RedisKeys.Inbox(client), RedisKeys.Acked(client)], args).ConfigureAwait(false);
        }, cancellationToken);
}
