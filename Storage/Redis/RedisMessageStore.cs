using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary><see cref="IMessageStore"/> on Redis Cluster: one hash per message, one dedupe hash per (sender client, client message id).</summary>
internal sealed class RedisMessageStore : IMessageStore
{
    private readonly IConnectionMultiplexer _connection;
    private readonly RedisRetry _retry;
    private readonly ReplicaAcknowledger _replicas;
    private readonly RedisStoreOptions _options;

    // A batch takes the Redis client's write lock once per command it holds. Replays read a page of up to
    // Node:ReplayPageSize messages at once for every reconnecting client, so their batches interleave and contend on
    // that lock per command; one page's batch written at a time contends once per page instead.
    private readonly Lock _readBatchGate = new();

    public RedisMessageStore(IConnectionMultiplexer connection, RedisRetry retry, ReplicaAcknowledger replicas, IOptions<RedisStoreOptions> options)
    {
        _connection = connection;
        _retry = retry;
        _replicas = replicas;
        _options = options.Value;
    }

    private IDatabase Db => _connection.GetDatabase();

    public Task<AppendResult> AppendAsync(MessageDraft draft, CancellationToken cancellationToken) =>
        _retry.RunAsync("message.append", async () =>
        {
            var meta = RedisKeys.ChatMeta(draft.ChatId);
            var reply = (RedisResult[])(await Db.ScriptEvaluateAsync(
                RedisScripts.AppendMessage,
                [meta, RedisKeys.ChatMembers(draft.ChatId), DedupeKey(draft)],
                [
                    draft.SenderUserId,
                    draft.MessageId,
                    draft.SenderClientId,
                    draft.Body,
                    RedisChatStore.Seconds(_options.MessageTtl),
                    RedisChatStore.Seconds(_options.MetadataTtl),
                    RedisKeys.MessagePrefix(draft.ChatId),
                    draft.OnlyIfStored ? "1" : "0",
                ]).ConfigureAwait(false))!;
            switch ((string?)reply[0])
            {
                case "new":
                    return new AppendResult(ChatWriteStatus.NotStored, null, [], false, false);
                case "nf":
                    return new AppendResult(ChatWriteStatus.ChatNotFound, null, [], false, false);
                case "np":
                    return new AppendResult(ChatWriteStatus.NotParticipant, null, [], false, false);
                case "ok":
                case "dup":
                    break;
                case var other:
                    throw new InvalidOperationException($"Unexpected script reply '{other}'.");
            }

            // A duplicate's original write may not have been replicated when its first attempt failed: wait either way.
            await _replicas.EnsureAsync(meta).ConfigureAwait(false);
            var duplicate = (string?)reply[0] == "dup";
            var participants = new string[reply.Length - 5];
            for (var i = 0; i < participants.Length; i++)
            {
                participants[i] = (string)reply[5 + i]!;
            }

            var message = new StoredMessage(
                draft.ChatId,
                RedisChatStore.Long(reply[2]),
                (string)reply[1]!,
                draft.SenderUserId,
                draft.SenderClientId,
                RedisChatStore.Long(reply[3]),
                draft.Body);
            return new AppendResult(ChatWriteStatus.Ok, message, participants, duplicate, (string?)reply[4] == "1");
        }, cancellationToken);

    // Fire and forget: the mark only spares a retried send a second fan-out, so it does not hold up SUCCESS. It is
    // sent before the SUCCESS frame, on the connection a retry's append also uses, so Redis applies it first.
    public Task MarkFannedOutAsync(MessageDraft draft, CancellationToken cancellationToken)
    {
        Db.ScriptEvaluate(RedisScripts.MarkFannedOut, [DedupeKey(draft)], flags: CommandFlags.FireAndForget);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<StoredMessage?>> GetMessagesAsync(IReadOnlyList<(string ChatId, long Seq)> keys, CancellationToken cancellationToken) =>
        _retry.RunAsync("message.get", async () =>
        {
            var batch = Db.CreateBatch();
            var reads = keys.Select(k => batch.HashGetAsync(RedisKeys.Message(k.ChatId, k.Seq), Fields)).ToArray();
            lock (_readBatchGate)
            {
                batch.Execute();
            }

            await Task.WhenAll(reads).ConfigureAwait(false);
            var messages = new StoredMessage?[keys.Count];
            for (var i = 0; i < keys.Count; i++)
            {
                var f = reads[i].Result;
                if (f[0].IsNull)
                {
                    continue;
                }

                messages[i] = new StoredMessage(keys[i].ChatId, keys[i].Seq, (string)f[0]!, (string)f[1]!, (string)f[2]!, (long)f[3], (byte[])f[4]!);
            }

            return (IReadOnlyList<StoredMessage?>)messages;
        }, cancellationToken);

    private static readonly RedisValue[] Fields = ["i", "u", "c", "t", "b"];

    private static RedisKey DedupeKey(MessageDraft draft) =>
        RedisKeys.Dedupe(draft.ChatId, draft.SenderUserId, draft.SenderClientId, draft.ClientMessageId);
}
