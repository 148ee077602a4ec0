namespace ChatNode.Storage.Memory;

public sealed partial class InMemoryStore
{
    private readonly Dictionary<string, Expiring<ChatState>> _chats = new(StringComparer.Ordinal);
    private readonly Dictionary<(string ChatId, long Version), Expiring<ChatEvent>> _events = [];
    private readonly Dictionary<string, Expiring<HashSet<string>>> _userChats = new(StringComparer.Ordinal);

    /// <summary>A chat's metadata, participants, counters and clock (one Redis hash and one set).</summary>
    private sealed class ChatState(string name, string createdBy, long createdAtUs)
    {
        public string Name { get; } = name;

        public string CreatedBy { get; } = createdBy;

        public long CreatedAtUs { get; } = createdAtUs;

        public HashSet<string> Participants { get; } = new(StringComparer.Ordinal);

        public long Version { get; set; } = 1;

        public long Seq { get; set; }

        public long ClockUs { get; set; } = createdAtUs;

        public ChatRecord ToRecord(string chatId, long version) =>
            new(chatId, Name, CreatedBy, [.. Participants.Order(StringComparer.Ordinal)], version, CreatedAtUs);
    }

    public Task<ChatEvent> CreateChatAsync(string chatId, string name, string createdBy, IReadOnlyList<string> participants, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (Live(_chats, chatId) is { } existing)
            {
                return Task.FromResult(new ChatEvent(existing.ToRecord(chatId, existing.Version), ChatEventKind.Created, createdBy, "", existing.ClockUs));
            }

            var now = ToUs(Now);
            var chat = new ChatState(name, createdBy, now);
            chat.Participants.UnionWith(participants);
            _chats[chatId] = new Expiring<ChatState>(chat, MetadataExpiry);
            var created = new ChatEvent(chat.ToRecord(chatId, 1), ChatEventKind.Created, createdBy, "", now);
            _events[(chatId, 1)] = new Expiring<ChatEvent>(created, MessageExpiry);
            foreach (var participant in chat.Participants)
            {
                IndexChat(participant, chatId);
            }

            return Task.FromResult(created);
        }
    }

    public Task<ChatRecord?> GetChatAsync(string chatId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(Live(_chats, chatId) is { } chat ? chat.ToRecord(chatId, chat.Version) : null);
        }
    }

    public Task<(ChatWriteStatus Status, ChatEvent? Event)> ModifyParticipantsAsync(
        string chatId, string actorUserId, string targetUserId, bool add, int maxParticipants, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var status = Modify(chatId, actorUserId, targetUserId, add, maxParticipants, out var chatEvent);
            return Task.FromResult((status, chatEvent));
        }
    }

    public Task<IReadOnlyDictionary<string, long>> CountChatsAsync(IReadOnlyCollection<string> userIds, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyDictionary<string, long>>(userIds.Distinct(StringComparer.Ordinal)
                .ToDictionary(u => u, u => (long)(Live(_userChats, u)?.Count ?? 0), StringComparer.Ordinal));
        }
    }

    public Task<IReadOnlyList<ChatRecord>> ListChatsAsync(string userId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var result = new List<ChatRecord>();
            if (Live(_userChats, userId) is { } ids)
            {
                foreach (var chatId in ids.ToArray())
                {
                    if (Live(_chats, chatId) is { } chat && chat.Participants.Contains(userId))
                    {
                        result.Add(chat.ToRecord(chatId, chat.Version));
                    }
                    else
                    {
                        ids.Remove(chatId);
                    }
                }
            }

            result.Sort((a, b) => a.CreatedAtUs.CompareTo(b.CreatedAtUs));
            return Task.FromResult<IReadOnlyList<ChatRecord>>(result);
        }
    }

    public Task<IReadOnlyList<ChatEvent?>> GetEventsAsync(IReadOnlyList<(string ChatId, long Version)> keys, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<ChatEvent?>>([.. keys.Select(k => Live(_events, k))]);
        }
    }

    // Caller holds _gate.
    private ChatWriteStatus Modify(string chatId, string actor, string target, bool add, int maxParticipants, out ChatEvent? chatEvent)
    {
        chatEvent = null;
        if (Live(_chats, chatId) is not { } chat)
        {
            return ChatWriteStatus.ChatNotFound;
        }

        if (!chat.Participants.Contains(actor))
        {
            return ChatWriteStatus.NotParticipant;
        }

        if (add)
        {
            if (chat.Participants.Contains(target))
            {
                return ChatWriteStatus.NoChange;
            }

            if (chat.Participants.Count >= maxParticipants)
            {
                return ChatWriteStatus.ChatFull;
            }

            chat.Participants.Add(target);
            IndexChat(target, chatId);
        }
        else
        {
            // The creator while a participant, else the participant first in ordinal order (as the Redis script).
            var admin = chat.Participants.Contains(chat.CreatedBy) ? chat.CreatedBy : chat.Participants.Min(StringComparer.Ordinal);
            if (actor != target && actor != admin)
            {
                return ChatWriteStatus.Forbidden;
            }

            if (!chat.Participants.Remove(target))
            {
                return ChatWriteStatus.NoChange;
            }

            Live(_userChats, target)?.Remove(chatId);
        }

        var now = Tick(chat);
        chat.Version++;
        _chats[chatId].ExpiresAt = MetadataExpiry;
        chatEvent = new ChatEvent(chat.ToRecord(chatId, chat.Version), add ? ChatEventKind.ParticipantAdded : ChatEventKind.ParticipantRemoved, actor, target, now);
        _events[(chatId, chat.Version)] = new Expiring<ChatEvent>(chatEvent, MessageExpiry);
        return ChatWriteStatus.Ok;
    }

    // Caller holds _gate. The chat clock: now in microseconds, forced to increase strictly per chat.
    private long Tick(ChatState chat)
    {
        var now = ToUs(Now);
        chat.ClockUs = now > chat.ClockUs ? now : chat.ClockUs + 1;
        return chat.ClockUs;
    }

    // Caller holds _gate.
    private void IndexChat(string userId, string chatId)
    {
        if (Live(_userChats, userId) is not { } ids)
        {
            _userChats[userId] = new Expiring<HashSet<string>>(ids = new HashSet<string>(StringComparer.Ordinal), MetadataExpiry);
        }

        ids.Add(chatId);
        _userChats[userId].ExpiresAt = MetadataExpiry;
    }
}
