namespace ChatNode.Storage.Memory;

public sealed partial class InMemoryStore
{
    private readonly Dictionary<string, Expiring<AttachmentRecord>> _attachments = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Expiring<HashSet<string>>> _attachmentChats = new(StringComparer.Ordinal);

    // The expiry index: attachment id -> (object key, due time); claimed entries leave it.
    private readonly Dictionary<string, (string ObjectKey, DateTimeOffset Due)> _attachmentExpiry = new(StringComparer.Ordinal);

    // Uploads to check: attachment id -> check time; claimed entries leave it.
    private readonly Dictionary<string, DateTimeOffset> _uploadChecks = new(StringComparer.Ordinal);

    public Task CreateAsync(AttachmentRecord record, DateTimeOffset checkUploadAt, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _attachments[record.AttachmentId] = new Expiring<AttachmentRecord>(record, expiresAt + TimeSpan.FromMinutes(1));
            _attachmentExpiry[record.AttachmentId] = (record.ObjectKey, expiresAt);
            _uploadChecks[record.AttachmentId] = checkUploadAt;
            return Task.CompletedTask;
        }
    }

    public Task<IReadOnlyList<AttachmentRecord>> ClaimUploadChecksAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var due = _uploadChecks.Where(e => e.Value <= now).OrderBy(e => e.Value).Take(limit).Select(e => e.Key).ToArray();
            var records = new List<AttachmentRecord>(due.Length);
            foreach (var id in due)
            {
                _uploadChecks.Remove(id);
                if (Live(_attachments, id) is { } record)
                {
                    records.Add(record);
                }
            }

            return Task.FromResult<IReadOnlyList<AttachmentRecord>>(records);
        }
    }

    public Task<IReadOnlyList<AttachmentRecord?>> GetAsync(IReadOnlyList<string> attachmentIds, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<AttachmentRecord?>>([.. attachmentIds.Select(id => Live(_attachments, id))]);
        }
    }

    public Task AddChatAsync(IReadOnlyList<string> attachmentIds, string chatId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var id in attachmentIds)
            {
                if (Live(_attachmentChats, id) is not { } chats)
                {
                    _attachmentChats[id] = new Expiring<HashSet<string>>(chats = new HashSet<string>(StringComparer.Ordinal), Now);
                }

                chats.Add(chatId);
                _attachmentChats[id].ExpiresAt = Now + _options.MessageTtl + TimeSpan.FromMinutes(1);
            }

            return Task.CompletedTask;
        }
    }

    public Task<IReadOnlyList<string>> ChatsOfAsync(string attachmentId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<string>>(Live(_attachmentChats, attachmentId) is { } chats ? [.. chats] : []);
        }
    }

    public Task<IReadOnlyList<(string AttachmentId, string ObjectKey)>> ClaimExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var due = _attachmentExpiry.Where(e => e.Value.Due <= now).OrderBy(e => e.Value.Due).Take(limit).ToArray();
            foreach (var (id, _) in due)
            {
                _attachmentExpiry.Remove(id);
                _uploadChecks.Remove(id);
                _attachments.Remove(id);
                _attachmentChats.Remove(id);
            }

            return Task.FromResult<IReadOnlyList<(string, string)>>([.. due.Select(e => (e.Key, e.Value.ObjectKey))]);
        }
    }

    public Task RescheduleUploadCheckAsync(string attachmentId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _uploadChecks[attachmentId] = at;
            return Task.CompletedTask;
        }
    }

    public Task RescheduleAsync(string attachmentId, string objectKey, DateTimeOffset at, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _attachmentExpiry[attachmentId] = (objectKey, at);
            return Task.CompletedTask;
        }
    }
}
