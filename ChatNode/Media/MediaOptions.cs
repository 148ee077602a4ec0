using Microsoft.Extensions.Options;

namespace ChatNode.Media;

/// <summary>Attachment rules (configuration section <c>Media</c>). The store itself is <c>Media:Store</c>.</summary>
public sealed class MediaOptions
{
    public const string Section = "Media";

    /// <summary>How long an upload URL is valid. Default 5 min.</summary>
    public TimeSpan UploadUrlTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a download URL is valid. Default 5 min.</summary>
    public TimeSpan DownloadUrlTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Largest attachment, in bytes. Default 16 MiB.</summary>
    public long MaxBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Content types that may be uploaded; <c>type/*</c> allows a whole family.</summary>
    public List<string> AllowedContentTypes { get; set; } = ["image/*", "video/*", "audio/*", "application/pdf"];

    /// <summary>Upload URLs one user may be granted per minute. Default 30.</summary>
    public int UploadsPerMinute { get; set; } = 30;

    /// <summary>Attachments one message may carry. Default 10.</summary>
    public int MaxAttachmentsPerMessage { get; set; } = 10;

    /// <summary>How long attachments live after their upload was granted. Default 30 days.</summary>
    public TimeSpan AttachmentTtl { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How long after an upload URL expired the sweeper checks what was uploaded with it, and deletes an upload of
    /// another size than granted: time for a PUT that started before the URL expired to finish. Default 5 min.
    /// </summary>
    public TimeSpan UploadCheckDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the sweeper checks uploads and deletes expired objects. Default 1 min.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
}

internal sealed class MediaOptionsValidator : IValidateOptions<MediaOptions>
{
    public ValidateOptionsResult Validate(string? name, MediaOptions o)
    {
        var failures = new List<string>();
        if (o.UploadUrlTtl <= TimeSpan.Zero || o.DownloadUrlTtl <= TimeSpan.Zero || o.UploadUrlTtl > TimeSpan.FromDays(7) || o.DownloadUrlTtl > TimeSpan.FromDays(7))
        {
            failures.Add("Media:UploadUrlTtl and DownloadUrlTtl must be between 1 s and 7 days (the SigV4 limit).");
        }

        if (o.MaxBytes <= 0 || o.UploadsPerMinute <= 0 || o.MaxAttachmentsPerMessage <= 0)
        {
            failures.Add("Media:MaxBytes, UploadsPerMinute and MaxAttachmentsPerMessage must be positive.");
        }

        if (o.AttachmentTtl < TimeSpan.FromSeconds(1) || o.SweepInterval <= TimeSpan.Zero)
        {
            failures.Add("Media:AttachmentTtl and SweepInterval must be positive.");
        }

        if (o.UploadCheckDelay < TimeSpan.Zero)
        {
            failures.Add("Media:UploadCheckDelay must not be negative.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
