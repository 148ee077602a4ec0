namespace ChatNode.Storage;

/// <summary>An uploaded (or granted) attachment: who may reference it and what it is.</summary>
public sealed record AttachmentRecord(
    string AttachmentId,
    string UploaderUserId,
    string ObjectKey,
    string ContentType,
    long Size,
    string Sha256,
    long CreatedAtMs);

/// <summary>
/// Attachment metadata: one record per attachment (written when an upload URL is granted), the chats whose messages
/// carry it, and two indexes the sweeper drains: uploads to check once their URL expired, and attachments to delete.
/// Records expire with the attachment TTL. Thread-safe.
/// </summary>
public interface IAttachmentStore
{
    /// <summary>
    /// Stores the record, schedules a check of its upload at <paramref name="checkUploadAt"/> and the object's deletion
    /// at <paramref name="expiresAt"/>. Durable when it completes.
    /// </summary>
    Task CreateAsync(AttachmentRecord record, DateTimeOffset checkUploadAt, DateTimeOffset expiresAt, CancellationToken cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="limit"/> uploads due for their check at <paramref name="now"/>: each is claimed by
    /// exactly one caller, once. Returns the records still stored (an attachment that expired meanwhile is skipped).
    /// </summary>
    Task<IReadOnlyList<AttachmentRecord>> ClaimUploadChecksAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>Records by id, in the order asked; null where none exists (never granted, or expired).</summary>
    Task<IReadOnlyList<AttachmentRecord?>> GetAsync(IReadOnlyList<string> attachmentIds, CancellationToken cancellationToken);

    /// <summary>Records that a message of <paramref name="chatId"/> carries these attachments. Idempotent.</summary>
    Task AddChatAsync(IReadOnlyList<string> attachmentIds, string chatId, CancellationToken cancellationToken);

    /// <summary>The chats whose messages carry the attachment.</summary>
    Task<IReadOnlyList<string>> ChatsOfAsync(string attachmentId, CancellationToken cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="limit"/> attachments due for deletion at <paramref name="now"/> and deletes their
    /// metadata. Each is claimed by exactly one caller (several nodes may sweep at once). Returns their object keys.
    /// </summary>
    Task<IReadOnlyList<(string AttachmentId, string ObjectKey)>> ClaimExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>Puts a claimed upload check back, due at <paramref name="at"/> (the blob store could not be asked).</summary>
    Task RescheduleUploadCheckAsync(string attachmentId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Puts a claimed attachment back in the expiry index (its object could not be deleted yet).</summary>
    Task RescheduleAsync(string attachmentId, string objectKey, DateTimeOffset at, CancellationToken cancellationToken);
}
