namespace ChatNode.Storage;

/// <summary>
/// A message to append; <see cref="ClientMessageId"/> makes the append idempotent per sending client. With
/// <see cref="OnlyIfStored"/> the append only answers an earlier attempt of the same message (the sender is over its
/// quota: a retry may finish what was stored, but nothing new is written), and is <see cref="ChatWriteStatus.NotStored"/> otherwise.
/// </summary>
public sealed record MessageDraft(
    string ChatId,
    string MessageId,
    string SenderUserId,
    string SenderClientId,
    string ClientMessageId,
    ReadOnlyMemory<byte> Body,
    bool OnlyIfStored = false);

/// <summary>The result of an append.</summary>
/// <param name="Message">The stored message (the original one for a duplicate); null unless <see cref="Status"/> is Ok.</param>
/// <param name="Participants">The chat's participants when the message was appended (now, for a duplicate).</param>
/// <param name="Duplicate">True when the client message id was already stored.</param>
/// <param name="FannedOut">For a duplicate: whether the original append's inbox fan-out was recorded as complete.</param>
public sealed record AppendResult(
    ChatWriteStatus Status,
    StoredMessage? Message,
    IReadOnlyList<string> Participants,
    bool Duplicate,
    bool FannedOut);

/// <summary>
/// Messages of a chat, addressed by (chat id, seq). Appends are atomic with the participant check, assign the next
/// sequence number of the chat (strictly increasing) and a chat-clock time (strictly increasing per chat), and are
/// deduplicated by (sender user, sender client, client message id) for as long as the message lives.
/// Writes are durable when the task completes. Thread-safe.
/// </summary>
public interface IMessageStore
{
    Task<AppendResult> AppendAsync(MessageDraft draft, CancellationToken cancellationToken);

    /// <summary>
    /// Records that every recipient inbox holds the message, so a retried send does not fan out again. Best effort and
    /// possibly not yet applied when the task completes: a lost mark only costs a retry a second (idempotent) fan-out.
    /// </summary>
    Task MarkFannedOutAsync(MessageDraft draft, CancellationToken cancellationToken);

    /// <summary>Messages by (chat, seq), in the order asked; null where a message expired.</summary>
    Task<IReadOnlyList<StoredMessage?>> GetMessagesAsync(IReadOnlyList<(string ChatId, long Seq)> keys, CancellationToken cancellationToken);
}
