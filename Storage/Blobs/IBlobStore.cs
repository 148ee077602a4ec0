namespace ChatNode.Storage.Blobs;

/// <summary>What the blob store knows of an object.</summary>
public sealed record BlobInfo(long Size, string? ContentType, DateTimeOffset LastModified);

/// <summary>
/// S3-compatible blob storage for attachment bytes. The node never moves bytes itself: it presigns URLs for clients
/// and checks objects exist. Object keys are chosen by the caller. Thread-safe.
/// </summary>
public interface IBlobStore
{
    /// <summary>Creates the bucket if missing and applies the expiry rule where the store supports lifecycle rules.</summary>
    /// <returns>True if the store expires objects by itself; false if a sweeper has to.</returns>
    Task<bool> PrepareAsync(TimeSpan objectTtl, CancellationToken cancellationToken);

    /// <summary>A URL that lets its holder PUT the object until <paramref name="expiry"/> passes.</summary>
    Task<Uri> PresignPutAsync(string key, TimeSpan expiry, CancellationToken cancellationToken);

    /// <summary>
    /// A URL that lets its holder GET the object until <paramref name="expiry"/> passes, answered with
    /// <paramref name="contentType"/> as its type and as an attachment named <paramref name="fileName"/> (never shown
    /// inline by a browser), whatever the uploader sent.
    /// </summary>
    Task<Uri> PresignGetAsync(string key, TimeSpan expiry, string contentType, string fileName, CancellationToken cancellationToken);

    /// <summary>Copies an object inside the store (no bytes pass through the caller); replaces the destination.</summary>
    Task CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken);

    /// <summary>The object's size and type; null if it does not exist.</summary>
    Task<BlobInfo?> StatAsync(string key, CancellationToken cancellationToken);

    /// <summary>Deletes the object; deleting a missing object succeeds.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken);
}
