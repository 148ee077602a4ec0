namespace ChatNode.Storage.Memory;

public sealed partial class InMemoryStore
{
    private readonly Dictionary<(string ChatId, long Seq), Expiring<StoredMessage>> _messages = [];
    private readonly Dictionary<(string ChatId, string UserId, string ClientId, string ClientMessageId), Expiring<DedupeRecord>> _dedupe = [];

    private sealed class DedupeRecord(string messageId, long seq, long atUs)
    {
        public string MessageId { get; } = messageId;

        public long Seq { get; } = seq;

        public long AtUs { get; } = atUs;

        public bool FannedOut { get; set; }
    }

    public Task<AppendResult> AppendAsync(MessageDraft draft, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var chat = Live(_chats, draft.ChatId);
            var participants = chat is null ? [] : (IReadOnlyList<string>)[.. chat.Participants.Order(StringComparer.Ordinal)];

            // A duplicate is answered even if the sender has left the chat since: the original send was authorized.
            if (Live(_dedupe, DedupeKey(draft)) is { } known)
            {
                var original = new StoredMessage(draft.ChatId, known.Seq, known.MessageId, draft.SenderUserId, draft.SenderClientId, known.AtUs, draft.Body);
                return Task.FromResult(new AppendResult(ChatWriteStatus.Ok, original, participants, Duplicate: true, known.FannedOut));
            }

            if (draft.OnlyIfStored)
            {
                return Task.FromResult(new AppendResult(ChatWriteStatus.NotStored, null, [], false, false));
            }

            if (chat is null)
            {
                return Task.FromResult(new AppendResult(ChatWriteStatus.ChatNotFound, null, [], false, false));
            }

            if (!chat.Participants.Contains(draft.SenderUserId))
            {
                return Task.FromResult(new AppendResult(ChatWriteStatus.NotParticipant, null, [], false, false));
            }

            var seq = ++chat.Seq;
            var now = Tick(chat);
            var message = new StoredMessage(draft.ChatId, seq, draft.MessageId, draft.SenderUserId, draft.SenderClientId, now, draft.Body.ToArray());
            _messages[(draft.ChatId, seq)] = new Expiring<StoredMessage>(message, MessageExpiry);
            _dedupe[DedupeKey(draft)] = new Expiring<DedupeRecord>(new DedupeRecord(draft.MessageId, seq, now), MessageExpiry);
            _chats[draft.ChatId].ExpiresAt = MetadataExpiry;
            return Task.FromResult(new AppendResult(ChatWriteStatus.Ok, message, participants, Duplicate: false, FannedOut: false));
        }
    }

    public Task MarkFannedOutAsync(MessageDraft draft, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Live(_dedupe, DedupeKey(draft))?.FannedOut = true;
            return Task.CompletedTask;
        }
    }

    public Task<IReadOnlyList<StoredMessage?>> GetMessagesAsync(IReadOnlyList<(string ChatId, long Seq)> keys, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<StoredMessage?>>([.. keys.Select(k => Live(_messages, k))]);
        }
    }

    private static (string, string, string, string) DedupeKey(MessageDraft draft) =>
        (draft.ChatId, draft.SenderUserId, draft.SenderClientId, draft.ClientMessageId);
}
