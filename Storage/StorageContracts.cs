namespace ChatNode.Storage;

/// <summary>A chat as stored: metadata plus the current participant set.</summary>
/// <param name="Version">Increases by one with every membership change; 1 after creation.</param>
public sealed record ChatRecord(
    string ChatId,
    string Name,
    string CreatedBy,
    IReadOnlyList<string> Participants,
    long Version,
    long CreatedAtUs);

/// <summary>What a chat event did.</summary>
public enum ChatEventKind
{
    Created = 1,
    ParticipantAdded = 2,
    ParticipantRemoved = 3,
}

/// <summary>
/// A stored change to a chat, with the chat as it was right after the change. Events share the chat's
/// clock with its messages, so their <see cref="AtUs"/> orders them against the chat's messages.
/// </summary>
public sealed record ChatEvent(ChatRecord Chat, ChatEventKind Kind, string ActorUserId, string TargetUserId, long AtUs)
{
    public string DeliveryId => Storage.DeliveryId.ForChatEvent(Chat.ChatId, Chat.Version);
}

/// <summary>A message as stored. <see cref="Body"/> is opaque to the store.</summary>
public sealed record StoredMessage(
    string ChatId,
    long Seq,
    string MessageId,
    string SenderUserId,
    string SenderClientId,
    long SentAtUs,
    ReadOnlyMemory<byte> Body)
{
    public string DeliveryId => Storage.DeliveryId.ForMessage(ChatId, Seq);
}

/// <summary>A client of a user: one device or app install.</summary>
public readonly record struct ClientAddress(string UserId, string ClientId)
{
    public override string ToString() => $"{UserId}/{ClientId}";
}

/// <summary>A registered client.</summary>
public sealed record ClientRecord(string ClientId, long RegisteredAtMs);

/// <summary>One entry of a client's inbox: a reference to a message or chat event still to be acknowledged.</summary>
/// <param name="Score">The referenced item's chat-clock time in microseconds; the inbox is ordered by it.</param>
public readonly record struct InboxEntry(string DeliveryId, long Score);

/// <summary>The outcome of a store operation that can be refused by the chat's state.</summary>
public enum ChatWriteStatus
{
    Ok,
    /// <summary>The chat does not exist (never created, or expired).</summary>
    ChatNotFound,
    /// <summary>The acting user is not a participant.</summary>
    NotParticipant,
    /// <summary>The acting user may not make this change.</summary>
    Forbidden,
    /// <summary>The chat is at its participant limit.</summary>
    ChatFull,
    /// <summary>The change was already in effect (adding a participant, removing a non-participant); nothing was written.</summary>
    NoChange,
    /// <summary>An append with <see cref="MessageDraft.OnlyIfStored"/> found no earlier attempt; nothing was written.</summary>
    NotStored,
}

/// <summary>
/// Thrown when the store did not answer, accept or replicate an operation in time. The operation is safe to retry.
/// <see cref="MayHaveWritten"/>: the operation writes, and may have been applied before it failed (a timeout, a lost
/// connection, a replica acknowledgement that did not come), so its outcome is unknown.
/// </summary>
public sealed class StoreUnavailableException : Exception
{
    public StoreUnavailableException(string message, Exception? inner = null, bool mayHaveWritten = false)
        : base(message, inner)
    {
        MayHaveWritten = mayHaveWritten;
    }

    public bool MayHaveWritten { get; }
}

/// <summary>
/// Thrown when the store refuses new data because it is at its memory limit (Redis <c>maxmemory</c> with
/// <c>noeviction</c>). The refused operation wrote nothing; reads and deletions keep working.
/// </summary>
public sealed class StoreFullException : Exception
{
    public StoreFullException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
