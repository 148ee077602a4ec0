using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary><see cref="IChatStore"/> on Redis Cluster: one hash and one set per chat, events as hashes, a per-user chat index.</summary>
internal sealed class RedisChatStore : IChatStore
{
    private readonly IConnectionMultiplexer _connection;
    private readonly RedisRetry _retry;
    private readonly ReplicaAcknowledger _replicas;
    private readonly RedisStoreOptions _options;

    public RedisChatStore(IConnectionMultiplexer connection, RedisRetry retry, ReplicaAcknowledger replicas, IOptions<RedisStoreOptions> options)
    {
        _connection = connection;
        _retry = retry;
        _replicas = replicas;
        _options = options.Value;
    }

    private IDatabase Db => _connection.GetDatabase();

    public Task<ChatEvent> CreateChatAsync(string chatId, string name, string createdBy, IReadOnlyList<string> participants, CancellationToken cancellationToken) =>
        _retry.RunAsync("chat.create", async () =>
        {
            var args = new List<RedisValue>(participants.Count + 5)
            {
                name,
                createdBy,
                Seconds(_options.MetadataTtl),
                Seconds(_options.MessageTtl),
                RedisKeys.EventPrefix(chatId),
            };
            args.AddRange(participants.Select(p => (RedisValue)p));
            var reply = (RedisResult[])(await Db.ScriptEvaluateAsync(
                RedisScripts.CreateChat, [RedisKeys.ChatMeta(chatId), RedisKeys.ChatMembers(chatId)], [.. args]).ConfigureAwait(false))!;
            var chat = ParseChat(chatId, reply, 1);

            // The user index is a secondary index: written after the chat, and checked against the members on read.
            var index = chat.Participants.Select(p => AddToUserIndexAsync(p, chatId)).ToArray();
            await Task.WhenAll(index).ConfigureAwait(false);
            await _replicas.EnsureAsync([.. chat.Participants.Select(RedisKeys.UserChats), RedisKeys.ChatMeta(chatId)]).ConfigureAwait(false);
            return new ChatEvent(chat, ChatEventKind.Created, createdBy, "", Long(reply[3]));
        }, cancellationToken);

    public async Task<ChatRecord?> GetChatAsync(string chatId, CancellationToken cancellationToken)
    {
        var chats = await _retry.RunAsync("chat.get", () => ReadChatsAsync([chatId]), cancellationToken).ConfigureAwait(false);
        return chats[0];
    }

    public Task<(ChatWriteStatus Status, ChatEvent? Event)> ModifyParticipantsAsync(
        string chatId, string actorUserId, string targetUserId, bool add, int maxParticipants, CancellationToken cancellationToken) =>
        _retry.RunAsync("chat.modify", async () =>
        {
            var reply = (RedisResult[])(await Db.ScriptEvaluateAsync(
                RedisScripts.ModifyParticipants,
                [RedisKeys.ChatMeta(chatId), RedisKeys.ChatMembers(chatId)],
                [actorUserId, targetUserId, add ? 1 : 0, maxParticipants, Seconds(_options.MetadataTtl), Seconds(_options.MessageTtl), RedisKeys.EventPrefix(chatId)])
                .ConfigureAwait(false))!;
            var status = (string?)reply[0] switch
            {
                "ok" => ChatWriteStatus.Ok,
                "nf" => ChatWriteStatus.ChatNotFound,
                "np" => ChatWriteStatus.NotParticipant,
                "forbidden" => ChatWriteStatus.Forbidden,
                "full" => ChatWriteStatus.ChatFull,
                "same" => ChatWriteStatus.NoChange,
                var other => throw new InvalidOperationException($"Unexpected script reply '{other}'."),
            };
            // The index is written after the members (another slot, so not atomically with them), also when the change
            // was made already (a retried request whose first attempt failed between the two writes).
            if (status is ChatWriteStatus.Ok or ChatWriteStatus.NoChange)
            {
                await UpdateUserIndexAsync(chatId, targetUserId, add).ConfigureAwait(false);
            }

            if (status != ChatWriteStatus.Ok)
            {
                return (status, (ChatEvent?)null);
            }

            var chat = ParseChat(chatId, reply, 1);
            await _replicas.EnsureAsync([RedisKeys.ChatMeta(chatId), RedisKeys.UserChats(targetUserId)]).ConfigureAwait(false);
            var kind = add ? ChatEventKind.ParticipantAdded : ChatEventKind.ParticipantRemoved;
            return (status, (ChatEvent?)new ChatEvent(chat, kind, actorUserId, targetUserId, Long(reply[3])));
        }, cancellationToken);

    public Task<IReadOnlyList<ChatRecord>> ListChatsAsync(string userId, CancellationToken cancellationToken) =>
        _retry.RunAsync("chat.list", async () =>
        {
            var indexKey = RedisKeys.UserChats(userId);
            var ids = (await Db.SetMembersAsync(indexKey).ConfigureAwait(false)).Select(v => (string)v!).ToArray();
            var chats = await ReadChatsAsync(ids).ConfigureAwait(false);
            var result = new List<ChatRecord>(ids.Length);
            var stale = new List<RedisValue>();
            for (var i = 0; i < ids.Length; i++)
            {
                if (chats[i] is { } chat && chat.Participants.Contains(userId))
                {
                    result.Add(chat);
                }
                else
                {
                    stale.Add(ids[i]);
                }
            }

            if (stale.Count > 0)
            {
                await Db.SetRemoveAsync(indexKey, [.. stale]).ConfigureAwait(false);
            }

            result.Sort((a, b) => a.CreatedAtUs.CompareTo(b.CreatedAtUs));
            return (IReadOnlyList<ChatRecord>)result;
        }, cancellationToken);

    public Task<IReadOnlyDictionary<string, long>> CountChatsAsync(IReadOnlyCollection<string> userIds, CancellationToken cancellationToken) =>
        _retry.RunAsync("chat.count", async () =>
        {
            var db = Db;
            var users = userIds.Distinct(StringComparer.Ordinal).ToArray();
            var counts = await Task.WhenAll(users.Select(u => db.SetLengthAsync(RedisKeys.UserChats(u)))).ConfigureAwait(false);
            return (IReadOnlyDictionary<string, long>)users.Zip(counts).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        }, cancellationToken);

    public Task<IReadOnlyList<ChatEvent?>> GetEventsAsync(IReadOnlyList<(string ChatId, long Version)> keys, CancellationToken cancellationToken) =>
        _retry.RunAsync("chat.events", async () =>
        {
            var reads = keys.Select(k => Db.HashGetAllAsync(RedisKeys.Event(k.ChatId, k.Version))).ToArray();
            await Task.WhenAll(reads).ConfigureAwait(false);
            var events = new ChatEvent?[keys.Count];
            for (var i = 0; i < keys.Count; i++)
            {
                events[i] = ParseEvent(keys[i].ChatId, keys[i].Version, reads[i].Result);
            }

            return (IReadOnlyList<ChatEvent?>)events;
        }, cancellationToken);

    // An add indexes the chat after the member was added. A removal unindexes it after the member was removed, then
    // reads the members again and indexes it back if an add has meanwhile made the user a member again: whatever the
    // interleaving of concurrent adds and removes, the last member change's writes leave a member indexed (a stale
    // entry of a non-member is harmless: the index is checked against the members on read).
    private async Task UpdateUserIndexAsync(string chatId, string userId, bool add)
    {
        if (add)
        {
            await AddToUserIndexAsync(userId, chatId).ConfigureAwait(false);
            return;
        }

        await Db.SetRemoveAsync(RedisKeys.UserChats(userId), chatId).ConfigureAwait(false);
        if (await Db.SetContainsAsync(RedisKeys.ChatMembers(chatId), userId).ConfigureAwait(false))
        {
            await AddToUserIndexAsync(userId, chatId).ConfigureAwait(false);
        }
    }

    private async Task AddToUserIndexAsync(string userId, string chatId)
    {
        var key = RedisKeys.UserChats(userId);
        await Db.SetAddAsync(key, chatId).ConfigureAwait(false);
        await Db.KeyExpireAsync(key, _options.MetadataTtl).ConfigureAwait(false);
    }

    private async Task<ChatRecord?[]> ReadChatsAsync(string[] chatIds)
    {
        var metas = chatIds.Select(id => Db.HashGetAsync(RedisKeys.ChatMeta(id), ["n", "cb", "v", "ca"])).ToArray();
        var members = chatIds.Select(id => Db.SetMembersAsync(RedisKeys.ChatMembers(id))).ToArray();
        await Task.WhenAll(metas.Cast<Task>().Concat(members)).ConfigureAwait(false);
        var chats = new ChatRecord?[chatIds.Length];
        for (var i = 0; i < chatIds.Length; i++)
        {
            var m = metas[i].Result;
            if (m[2].IsNull)
            {
                continue;
            }

            var participants = members[i].Result.Select(v => (string)v!).Order(StringComparer.Ordinal).ToArray();
            chats[i] = new ChatRecord(chatIds[i], (string?)m[0] ?? "", (string?)m[1] ?? "", participants, (long)m[2], (long)m[3]);
        }

        return chats;
    }

    // reply: status, version, createdAtUs, atUs, name, creator, participants...
    private static ChatRecord ParseChat(string chatId, RedisResult[] reply, int first)
    {
        var participants = new string[reply.Length - first - 5];
        for (var i = 0; i < participants.Length; i++)
        {
            participants[i] = (string)reply[first + 5 + i]!;
        }

        Array.Sort(participants, StringComparer.Ordinal);
        return new ChatRecord(chatId, (string?)reply[first + 3] ?? "", (string?)reply[first + 4] ?? "", participants, Long(reply[first]), Long(reply[first + 1]));
    }

    private static ChatEvent? ParseEvent(string chatId, long version, HashEntry[] fields)
    {
        if (fields.Length == 0)
        {
            return null;
        }

        var f = fields.ToDictionary(e => (string)e.Name!, e => e.Value);
        var participantList = (string?)f.GetValueOrDefault("p") ?? "";
        var participants = participantList.Length == 0 ? [] : participantList.Split('\n');
        Array.Sort(participants, StringComparer.Ordinal);
        var chat = new ChatRecord(chatId, (string?)f.GetValueOrDefault("n") ?? "", (string?)f.GetValueOrDefault("cb") ?? "", participants, version, (long)f.GetValueOrDefault("ca"));
        return new ChatEvent(chat, (ChatEventKind)(int)f.GetValueOrDefault("k"), (string?)f.GetValueOrDefault("a") ?? "", (string?)f.GetValueOrDefault("x") ?? "", (long)f.GetValueOrDefault("t"));
    }

    // Parsed from the reply's bytes: no string on the way.
    internal static long Long(RedisResult r) => (long)r;

    internal static long Seconds(TimeSpan ttl) => Math.Max(1, (long)Math.Ceiling(ttl.TotalSeconds));
}
