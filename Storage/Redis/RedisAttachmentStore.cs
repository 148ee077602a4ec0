using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary>
/// <see cref="IAttachmentStore"/> on Redis Cluster: <c>a:{id}</c> (hash) and <c>a:{id}:ch</c> (set of chat ids) share
/// the attachment's slot; the expiry index <c>media:expiry</c> is one sorted set (member <c>id|objectKey</c>, score the
/// deletion time in ms) and the upload checks <c>media:uploads</c> another (member the id, score the check time in ms),
/// which sweepers claim entries from with <c>ZREM</c>.
/// </summary>
internal sealed class RedisAttachmentStore : IAttachmentStore
{
    private static readonly RedisKey ExpiryIndex = "media:expiry";
    private static readonly RedisKey UploadChecks = "media:uploads";
    private static readonly RedisValue[] Fields = ["u", "k", "t", "s", "h", "c"];

    private readonly IConnectionMultiplexer _connection;
    private readonly RedisRetry _retry;
    private readonly ReplicaAcknowledger _replicas;
    private readonly RedisStoreOptions _options;

    private readonly TimeProvider _time;

    public RedisAttachmentStore(IConnectionMultiplexer connection, RedisRetry retry, ReplicaAcknowledger replicas, IOptions<RedisStoreOptions> options, TimeProvider time)
    {
        _time = time;
        _connection = connection;
        _retry = retry;
        _replicas = replicas;
        _options = options.Value;
    }

    private IDatabase Db => _connection.GetDatabase();

    public Task CreateAsync(AttachmentRecord record, DateTimeOffset checkUploadAt, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
        _retry.RunAsync("attachment.create", async () =>
        {
            var key = Record(record.AttachmentId);
            var ttl = expiresAt - _time.GetUtcNow() + TimeSpan.FromMinutes(1);
            var db = Db;
            await db.HashSetAsync(key,
            [
                new("u", record.UploaderUserId),
                new("k", record.ObjectKey),
                new("t", record.ContentType),
                new("s", record.Size),
                new("h", record.Sha256),
                new("c", record.CreatedAtMs),
            ]).ConfigureAwait(false);
            await db.KeyExpireAsync(key, ttl).ConfigureAwait(false);
            await db.SortedSetAddAsync(ExpiryIndex, Member(record.AttachmentId, record.ObjectKey), expiresAt.ToUnixTimeMilliseconds()).ConfigureAwait(false);
            await db.SortedSetAddAsync(UploadChecks, record.AttachmentId, checkUploadAt.ToUnixTimeMilliseconds()).ConfigureAwait(false);
            await _replicas.EnsureAsync([key, ExpiryIndex, UploadChecks]).ConfigureAwait(false);
        }, cancellationToken);

    public Task<IReadOnlyList<AttachmentRecord?>> GetAsync(IReadOnlyList<string> attachmentIds, CancellationToken cancellationToken) =>
        _retry.RunAsync("attachment.get", async () => (IReadOnlyList<AttachmentRecord?>)await ReadAsync(attachmentIds).ConfigureAwait(false), cancellationToken);

    public Task AddChatAsync(IReadOnlyList<string> attachmentIds, string chatId, CancellationToken cancellationToken) =>
        _retry.RunAsync("attachment.chat", async () =>
        {
            var keys = attachmentIds.Select(Chats).ToArray();
            foreach (var key in keys)
            {
                await Db.SetAddAsync(key, chatId).ConfigureAwait(false);
                await Db.KeyExpireAsync(key, _options.MessageTtl + TimeSpan.FromMinutes(1)).ConfigureAwait(false);
            }

            await _replicas.EnsureAsync(keys).ConfigureAwait(false);
        }, cancellationToken);

    public Task<IReadOnlyList<string>> ChatsOfAsync(string attachmentId, CancellationToken cancellationToken) =>
        _retry.RunAsync("attachment.chats", async () =>
            (IReadOnlyList<string>)(await Db.SetMembersAsync(Chats(attachmentId)).ConfigureAwait(false)).Select(v => (string)v!).ToArray(), cancellationToken);

    public Task<IReadOnlyList<(string AttachmentId, string ObjectKey)>> ClaimExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        _retry.RunAsync("attachment.expire", async () =>
        {
            var claimed = new List<(string, string)>();
            foreach (var text in await ClaimDueAsync(ExpiryIndex, now, limit).ConfigureAwait(false))
            {
                var separator = text.IndexOf('|', StringComparison.Ordinal);
                var id = text[..separator];
                await Db.KeyDeleteAsync([Record(id), Chats(id)]).ConfigureAwait(false);
                await Db.SortedSetRemoveAsync(UploadChecks, id).ConfigureAwait(false);
                claimed.Add((id, text[(separator + 1)..]));
            }

            return (IReadOnlyList<(string, string)>)claimed;
        }, cancellationToken);

    public Task<IReadOnlyList<AttachmentRecord>> ClaimUploadChecksAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        _retry.RunAsync("attachment.check", async () =>
        {
            var records = await ReadAsync(await ClaimDueAsync(UploadChecks, now, limit).ConfigureAwait(false)).ConfigureAwait(false);
            return (IReadOnlyList<AttachmentRecord>)records.OfType<AttachmentRecord>().ToArray();
        }, cancellationToken);

    public Task RescheduleUploadCheckAsync(string attachmentId, DateTimeOffset at, CancellationToken cancellationToken) =>
        _retry.RunAsync("attachment.reschedule", () => Db.SortedSetAddAsync(UploadChecks, attachmentId, at.ToUnixTimeMilliseconds()), cancellationToken);

    public Task RescheduleAsync(string attachmentId, string objectKey, DateTimeOffset at, CancellationToken cancellationToken) =>
        _retry.RunAsync("attachment.reschedule", () => Db.SortedSetAddAsync(ExpiryIndex, Member(attachmentId, objectKey), at.ToUnixTimeMilliseconds()), cancellationToken);

    // The members of a work index due at `now` that this caller claimed: ZREM decides which sweeper owns each.
    private async Task<List<string>> ClaimDueAsync(RedisKey index, DateTimeOffset now, int limit)
    {
        var db = Db;
        var due = await db.SortedSetRangeByScoreAsync(index, double.NegativeInfinity, now.ToUnixTimeMilliseconds(), take: limit).ConfigureAwait(false);
        var claimed = new List<string>(due.Length);
        foreach (var member in due)
        {
            if (await db.SortedSetRemoveAsync(index, member).ConfigureAwait(false))
            {
                claimed.Add((string)member!);
            }
        }

        return claimed;
    }

    private async Task<AttachmentRecord?[]> ReadAsync(IReadOnlyList<string> attachmentIds)
    {
        var reads = attachmentIds.Select(id => Db.HashGetAsync(Record(id), Fields)).ToArray();
        await Task.WhenAll(reads).ConfigureAwait(false);
        var records = new AttachmentRecord?[attachmentIds.Count];
        for (var i = 0; i < records.Length; i++)
        {
            var f = reads[i].Result;
            if (!f[0].IsNull)
            {
                records[i] = new AttachmentRecord(attachmentIds[i], (string)f[0]!, (string)f[1]!, (string)f[2]!, (long)f[3], (string?)f[4] ?? "", (long)f[5]);
            }
        }

        return records;
    }

    private static RedisKey Record(string id) => "a:{" + id + "}";

    private static RedisKey Chats(string id) => "a:{" + id + "}:ch";

    private static RedisValue Member(string id, string objectKey) => id + "|" + objectKey;
}
