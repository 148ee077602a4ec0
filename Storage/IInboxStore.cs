namespace ChatNode.Storage;

/// <summary>
/// Per-client inboxes: ordered sets of delivery ids still to be acknowledged. Entries expire with the message
/// TTL. Adding an entry twice is harmless (same id, same score), and adding one the client acknowledged recently (a
/// retried fan-out) does nothing: an acknowledged entry never comes back. Writes are durable when the task completes.
/// Thread-safe.
/// </summary>
public interface IInboxStore
{
    /// <summary>
    /// Adds one entry to the inbox of every client given, except to inboxes that already hold
    /// <paramref name="maxEntries"/> entries: those clients are returned (full), and their inboxes are left as they were.
    /// </summary>
    Task<IReadOnlyList<ClientAddress>> AddAsync(IReadOnlyCollection<ClientAddress> clients, InboxEntry entry, int maxEntries, CancellationToken cancellationToken);

    /// <summary>
    /// Adds one entry to the inbox of every client registered to one of <paramref name="userIds"/> (in the client store)
    /// at the time of the write, except <paramref name="except"/>; like <see cref="AddAsync"/> otherwise, and returns the
    /// clients whose inboxes were full. Reads the registrations and writes the inboxes of one user atomically.
    /// </summary>
    Task<IReadOnlyList<ClientAddress>> AddToUsersAsync(IReadOnlyCollection<string> userIds, ClientAddress except, InboxEntry entry, int maxEntries, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="limit"/> live entries with score at least <paramref name="fromScore"/>, oldest first.
    /// Entries older than the TTL are dropped as a side effect.
    /// </summary>
    Task<IReadOnlyList<InboxEntry>> ReadAsync(ClientAddress client, long fromScore, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Removes entries (acknowledged, or referring to expired items) and remembers them for a while (the backend's
    /// tombstone window), so that a repeated add of one does not bring it back; returns how many were present.
    /// </summary>
    Task<int> RemoveAsync(ClientAddress client, IReadOnlyList<string> deliveryIds, CancellationToken cancellationToken);
}
