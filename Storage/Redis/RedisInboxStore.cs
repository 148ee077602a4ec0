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
            // One script call per master: for the users whose slots it serves, one call reads their registered clients
            // and writes their inboxes (a user alone on a master gets the one-user script, in the same batch). A send
            // therefore needs no round trip to list the recipients' clients, and a group of 100 costs each master one
            // script call instead of one per participant.
            var users = userIds as IReadOnlyList<string> ?? userIds.ToArray();
            var keys = new RedisKey[users.Count];
            for (var i = 0; i < users.Count; i++)
            {
                keys[i] = RedisKeys.UserClients(users[i]);
            }

            // A 1:1 chat's two users share a master a third of the time: too rarely to pay for grouping every send.
            var masters = users.Count > 2 ? MastersOf(keys) : Singles(keys);
            var batch = Db.CreateBatch();
            var calls = new Task<RedisResult>[masters.Count];
            for (var m = 0; m < masters.Count; m++)
            {
                var (server, members) = masters[m];
                calls[m] = members.Count == 1
                    ? batch.ScriptEvaluateAsync(RedisScripts.AddToUserInboxes, [keys[members[0]]], UserArgs(users[members[0]], except, entry, maxEntries))
                    : server!.ExecuteAsync("EVAL", UsersArgs(keys, members, except, entry, maxEntries), CommandFlags.NoRedirect);
            }

            batch.Execute();
            try
            {
                await Task.WhenAll(calls).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Each call's outcome is looked at below; waiting for all of them first leaves none unobserved.
            }

            var written = new List<RedisKey>(users.Count);
            List<ClientAddress>? full = null;
            for (var m = 0; m < masters.Count; m++)
            {
                var members = masters[m].Members;
                RedisResult[] reply;
                try
                {
                    reply = (RedisResult[])(await calls[m].ConfigureAwait(false))!;
                }
                catch (RedisServerException ex) when (members.Count > 1 && !ex.Message.StartsWith("OOM", StringComparison.Ordinal))
                {
                    // The slots moved (MOVED, ASK, a key no longer on that node): the one-user scripts, which the client
                    // routes and redirects itself. The failed call may have written some users first; the writes are
                    // idempotent, so writing them again is harmless.
                    reply = await PerUserAsync(users, keys, members, except, entry, maxEntries).ConfigureAwait(false);
                }

                var at = 0;
                foreach (var index in members)
                {
                    var count = (long)reply[at];
                    var fullCount = (int)(long)reply[at + 1];
                    if (count > 0)
                    {
                        // Only the masters written wait for their replicas (a sender with no other client wrote nothing).
                        written.Add(keys[index]);
                    }

                    for (var j = 0; j < fullCount; j++)
                    {
                        (full ??= []).Add(new ClientAddress(users[index], (string)reply[at + 2 + j]!));
                    }

                    at += 2 + fullCount;
                }
            }

            if (written.Count > 0)
            {
                await _replicas.EnsureAsync(written).ConfigureAwait(false);
            }

            return (IReadOnlyList<ClientAddress>?)full ?? [];
        }, cancellationToken);
    }

    // Each user on its own (the master is not looked up: one-user calls are routed by the client).
    private static List<(IServer? Server, List<int> Members)> Singles(RedisKey[] keys)
    {
        var singles = new List<(IServer? Server, List<int> Members)>(keys.Length);
        for (var i = 0; i < keys.Length; i++)
        {
            singles.Add((null, [i]));
        }

        return singles;
    }

    // The users' indexes grouped by the master that serves their slot now.
    private List<(IServer? Server, List<int> Members)> MastersOf(RedisKey[] keys)
    {
        var masters = new List<(IServer? Server, List<int> Members)>(3);
        for (var i = 0; i < keys.Length; i++)
        {
            var server = _connection.GetServer(keys[i], null, CommandFlags.DemandMaster);
            var found = false;
            foreach (var (known, members) in masters)
            {
                if (known!.EndPoint.Equals(server.EndPoint))
                {
                    members.Add(i);
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                masters.Add((server, [i]));
            }
        }

        return masters;
    }

    private RedisValue[] UserArgs(string user, ClientAddress except, InboxEntry entry, int maxEntries) =>
        [entry.DeliveryId, entry.Score, RedisChatStore.Seconds(_options.MessageTtl), maxEntries, user == except.UserId ? except.ClientId : ""];

    private object[] UsersArgs(RedisKey[] keys, List<int> members, ClientAddress except, InboxEntry entry, int maxEntries)
    {
        var args = new object[members.Count + 8];
        args[0] = RedisScripts.AddToUsersInboxes;
        args[1] = 1;
        args[2] = (string)keys[members[0]]!;
        args[3] = entry.DeliveryId;
        args[4] = entry.Score;
        args[5] = RedisChatStore.Seconds(_options.MessageTtl);
        args[6] = maxEntries;
        args[7] = except.ClientId;
        args[8] = (string)RedisKeys.UserClients(except.UserId)!;
        for (var i = 1; i < members.Count; i++)
        {
            args[8 + i] = (string)keys[members[i]]!;
        }

        return args;
    }

    // The one-user script for each of the members, their replies concatenated in the members' order.
    private async Task<RedisResult[]> PerUserAsync(IReadOnlyList<string> users, RedisKey[] keys, List<int> members, ClientAddress except, InboxEntry entry, int maxEntries)
    {
        var db = Db;
        var replies = new List<RedisResult>();
        foreach (var index in members)
        {
            replies.AddRange((RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.AddToUserInboxes, [keys[index]], UserArgs(users[index], except, entry, maxEntries))
                .ConfigureAwait(false))!);
        }

        return [.. replies];
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
