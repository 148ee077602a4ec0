namespace ChatNode.Storage;

/// <summary>
/// Chats and their participants. All calls address one chat by its id (one partition), except the per-user
/// index behind <see cref="ListChatsAsync"/>. Every write is durable when the returned task completes
/// (accepted by the store and, where configured, by a replica) and carries a TTL. Thread-safe.
/// </summary>
public interface IChatStore
{
    /// <summary>
    /// Creates a chat and its <see cref="ChatEventKind.Created"/> event (version 1). Idempotent by chat id: a retry
    /// after an unknown outcome returns the chat as it is.
    /// </summary>
    Task<ChatEvent> CreateChatAsync(string chatId, string name, string createdBy, IReadOnlyList<string> participants, CancellationToken cancellationToken);

    /// <summary>The chat, or null if it does not exist.</summary>
    Task<ChatRecord?> GetChatAsync(string chatId, CancellationToken cancellationToken);

    /// <summary>
    /// Adds or removes <paramref name="targetUserId"/> atomically with the membership checks: the actor must be a
    /// participant; anyone may add, anyone may remove themselves, only the chat's admin may remove others (its creator
    /// while a participant, else the participant first in ordinal order of user ids); an add beyond
    /// <paramref name="maxParticipants"/> is refused. On success the chat's version increases and an event is stored.
    /// </summary>
    Task<(ChatWriteStatus Status, ChatEvent? Event)> ModifyParticipantsAsync(
        string chatId, string actorUserId, string targetUserId, bool add, int maxParticipants, CancellationToken cancellationToken);

    /// <summary>The chats the user currently participates in.</summary>
    Task<IReadOnlyList<ChatRecord>> ListChatsAsync(string userId, CancellationToken cancellationToken);

    /// <summary>How many chats each user given participates in (as its chat index counts them; expired ones may still count).</summary>
    Task<IReadOnlyDictionary<string, long>> CountChatsAsync(IReadOnlyCollection<string> userIds, CancellationToken cancellationToken);

    /// <summary>Stored events by (chat, version); null where an event expired.</summary>
    Task<IReadOnlyList<ChatEvent?>> GetEventsAsync(IReadOnlyList<(string ChatId, long Version)> keys, CancellationToken cancellationToken);
}
