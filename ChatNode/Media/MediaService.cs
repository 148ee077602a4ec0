using System.Threading.RateLimiting;
using ChatNode.Auth;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using ChatNode.Storage.Blobs;
using Microsoft.Extensions.Options;

namespace ChatNode.Media;

/// <summary>
/// Who may upload and download which attachment. Bytes never pass through the node: it grants presigned URLs, checks
/// that a referenced object exists with the declared size and was uploaded by the sender, and grants downloads only to
/// current participants of a chat whose messages carry the attachment (and to its uploader). The first send of an
/// attachment seals it: the store copies the upload to a key no upload URL can write (<see cref="SealedKey"/>), the
/// copy is checked, and every download after that reads the copy, so the bytes recipients get cannot change; bytes
/// of another size than granted are deleted at once, and an upload never sent is checked (and deleted if its size is
/// not the granted one) once its URL expired (<see cref="AttachmentSweeper"/>). Downloads are served with the declared
/// type, as an attachment. Thread-safe.
/// </summary>
public sealed class MediaService : IDisposable
{
    // The characters of an HTTP token (RFC 9110): what each part of a content type may use.
    private static readonly System.Buffers.SearchValues<char> TokenChars =
        System.Buffers.SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    private static readonly Task<IReadOnlyList<Attachment>> NoAttachments = Task.FromResult<IReadOnlyList<Attachment>>([]);

    private readonly IBlobStore? _blobs;
    private readonly IAttachmentStore _attachments;
    private readonly IChatStore _chats;
    private readonly MediaOptions _options;
    private readonly TimeProvider _time;
    private readonly PartitionedRateLimiter<string> _uploads;

    public MediaService(IAttachmentStore attachments, IChatStore chats, IOptions<MediaOptions> options, TimeProvider time, IBlobStore? blobs = null)
    {
        _blobs = blobs;
        _attachments = attachments;
        _chats = chats;
        _options = options.Value;
        _time = time;
        var window = new FixedWindowRateLimiterOptions { PermitLimit = _options.UploadsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 };
        _uploads = PartitionedRateLimiter.Create<string, string>(user => RateLimitPartition.GetFixedWindowLimiter(user, _ => window));
    }

    public bool IsEnabled => _blobs is not null;

    /// <summary>The key of an attachment's sealed copy: written only by the node, at its first send.</summary>
    public static string SealedKey(string attachmentId) => "s." + attachmentId;

    /// <summary>
    /// The key an attachment is uploaded to. No '/' in keys: copying an object whose key has one fails on s3rver (it
    /// does not decode %2F in <c>x-amz-copy-source</c>); the uploader is in the record, not in the key.
    /// </summary>
    public static string UploadKey(string attachmentId) => "u." + attachmentId;

    public void Dispose() => _uploads.Dispose();

    internal async Task<GetAttachmentUploadResult> GrantUploadAsync(string userId, GetAttachmentUpload request, CancellationToken cancellationToken)
    {
        var blobs = RequireStore();
        if (request.Size == 0)
        {
            throw new MediaException(ErrorCode.BadRequest, "size must be the attachment's length in bytes.");
        }

        // Compared unsigned: a size of 2^63 or more must not turn negative and pass.
        if (request.Size > (ulong)_options.MaxBytes)
        {
            throw new MediaException(ErrorCode.TooLarge, $"Attachments are limited to {_options.MaxBytes} bytes.");
        }

        if (!IsAllowed(request.ContentType))
        {
            throw new MediaException(ErrorCode.BadRequest, $"Content type '{request.ContentType}' is not accepted; allowed: {string.Join(", ", _options.AllowedContentTypes)}.");
        }

        if (request.Sha256.Length != 64 || !request.Sha256.All(char.IsAsciiHexDigitLower))
        {
            throw new MediaException(ErrorCode.BadRequest, "sha256 must be 64 lowercase hex characters.");
        }

        using var lease = _uploads.AttemptAcquire(userId);
        if (!lease.IsAcquired)
        {
            throw new MediaException(ErrorCode.RateLimited, $"At most {_options.UploadsPerMinute} uploads per minute.");
        }

        var id = Ids.NewChatId();
        var now = _time.GetUtcNow();
        var record = new AttachmentRecord(id, userId, UploadKey(id), request.ContentType, (long)request.Size, request.Sha256, now.ToUnixTimeMilliseconds());
        await _attachments.CreateAsync(record, now + _options.UploadUrlTtl + _options.UploadCheckDelay, now + _options.AttachmentTtl, cancellationToken).ConfigureAwait(false);
        var url = await blobs.PresignPutAsync(record.ObjectKey, _options.UploadUrlTtl, cancellationToken).ConfigureAwait(false);
        return new GetAttachmentUploadResult
        {
            AttachmentId = id,
            UploadUrl = url.ToString(),
            ExpiresAtUnixMs = (now + _options.UploadUrlTtl).ToUnixTimeMilliseconds(),
        };
    }

    internal async Task<GetAttachmentDownloadResult> GrantDownloadAsync(string userId, string attachmentId, CancellationToken cancellationToken)
    {
        var blobs = RequireStore();
        if (!Ids.IsValidChatId(attachmentId) || (await _attachments.GetAsync([attachmentId], cancellationToken).ConfigureAwait(false))[0] is not { } record)
        {
            throw new MediaException(ErrorCode.NotFound, "No such attachment.");
        }

        if (record.UploaderUserId != userId && !await ParticipatesAsync(userId, attachmentId, cancellationToken).ConfigureAwait(false))
        {
            throw new MediaException(ErrorCode.Forbidden, "Only participants of a chat that carries this attachment may download it.");
        }

        // The sealed copy once there is one (every attachment sent since sealing exists); before its first send, the
        // uploader's own upload; an attachment sent before sealing existed has only its upload.
        var key = await blobs.StatAsync(SealedKey(attachmentId), cancellationToken).ConfigureAwait(false) is not null ? SealedKey(attachmentId) : record.ObjectKey;
        var url = await blobs.PresignGetAsync(key, _options.DownloadUrlTtl, record.ContentType, attachmentId, cancellationToken).ConfigureAwait(false);
        return new GetAttachmentDownloadResult
        {
            DownloadUrl = url.ToString(),
            ExpiresAtUnixMs = (_time.GetUtcNow() + _options.DownloadUrlTtl).ToUnixTimeMilliseconds(),
            Attachment = ToAttachment(record),
        };
    }

    /// <summary>
    /// Checks a message's attachments before anything is stored: each was uploaded by the sender, still exists, and
    /// has the declared size. Returns them as the message carries them (metadata from the grant, not from the client).
    /// A message without attachments (nearly all) costs nothing here.
    /// </summary>
    internal Task<IReadOnlyList<Attachment>> ValidateForSendAsync(string senderUserId, IReadOnlyList<Attachment> requested, CancellationToken cancellationToken) =>
        requested.Count == 0 ? NoAttachments : ValidateAttachmentsAsync(senderUserId, requested, cancellationToken);

    private async Task<IReadOnlyList<Attachment>> ValidateAttachmentsAsync(string senderUserId, IReadOnlyList<Attachment> requested, CancellationToken cancellationToken)
    {
        var blobs = RequireStore();
        if (requested.Count > _options.MaxAttachmentsPerMessage)
        {
            throw new MediaException(ErrorCode.TooLarge, $"A message carries at most {_options.MaxAttachmentsPerMessage} attachments.");
        }

        var ids = requested.Select(a => a.AttachmentId).ToArray();
        if (ids.Any(id => !Ids.IsValidChatId(id)) || ids.Distinct(StringComparer.Ordinal).Count() != ids.Length)
        {
            throw new MediaException(ErrorCode.BadRequest, "Attachment ids must be distinct ids granted by getAttachmentUpload.");
        }

        var records = await _attachments.GetAsync(ids, cancellationToken).ConfigureAwait(false);
        var result = new List<Attachment>(records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            if (records[i] is not { } record)
            {
                throw new MediaException(ErrorCode.NotFound, $"Attachment {ids[i]} does not exist or has expired.");
            }

            if (record.UploaderUserId != senderUserId)
            {
                throw new MediaException(ErrorCode.Forbidden, $"Attachment {ids[i]} was uploaded by another user.");
            }

            await SealAsync(blobs, record, cancellationToken).ConfigureAwait(false);

            result.Add(ToAttachment(record));
        }

        return result;
    }

    /// <summary>Records that the chat now carries these attachments, so its participants may download them.</summary>
    internal Task LinkAsync(IReadOnlyList<Attachment> attachments, string chatId, CancellationToken cancellationToken) =>
        attachments.Count == 0 ? Task.CompletedTask : _attachments.AddChatAsync(attachments.Select(a => a.AttachmentId).ToArray(), chatId, cancellationToken);

    // The sealed copy, made at the first send from the upload (the store copies; no bytes pass the node) and checked
    // against the grant. An upload of another size is deleted with its copy: it does not sit in the store until expiry.
    private static async Task SealAsync(IBlobStore blobs, AttachmentRecord record, CancellationToken cancellationToken)
    {
        var sealedKey = SealedKey(record.AttachmentId);
        var blob = await blobs.StatAsync(sealedKey, cancellationToken).ConfigureAwait(false);
        if (blob is null)
        {
            if (await blobs.StatAsync(record.ObjectKey, cancellationToken).ConfigureAwait(false) is null)
            {
                throw new MediaException(ErrorCode.NotFound, $"Attachment {record.AttachmentId} was never uploaded (PUT the bytes to its upload URL first).");
            }

            await blobs.CopyAsync(record.ObjectKey, sealedKey, cancellationToken).ConfigureAwait(false);
            blob = await blobs.StatAsync(sealedKey, cancellationToken).ConfigureAwait(false)
                ?? throw new MediaException(ErrorCode.NotFound, $"Attachment {record.AttachmentId} was removed while it was sealed; upload it again.");
            if (blob.Size == record.Size)
            {
                // Nobody reads the upload once sealed: it does not hold a second copy of the bytes until expiry.
                await blobs.DeleteAsync(record.ObjectKey, cancellationToken).ConfigureAwait(false);
            }
        }

        if (blob.Size != record.Size)
        {
            await blobs.DeleteAsync(sealedKey, cancellationToken).ConfigureAwait(false);
            await blobs.DeleteAsync(record.ObjectKey, cancellationToken).ConfigureAwait(false);
            throw new MediaException(ErrorCode.BadRequest, $"Attachment {record.AttachmentId} had {blob.Size} bytes, not the {record.Size} granted; it was deleted.");
        }
    }

    private async Task<bool> ParticipatesAsync(string userId, string attachmentId, CancellationToken cancellationToken)
    {
        foreach (var chatId in await _attachments.ChatsOfAsync(attachmentId, cancellationToken).ConfigureAwait(false))
        {
            if (await _chats.GetChatAsync(chatId, cancellationToken).ConfigureAwait(false) is { } chat && chat.Participants.Contains(userId))
            {
                return true;
            }
        }

        return false;
    }

    private bool IsAllowed(string contentType)
    {
        if (!IsMediaType(contentType) || IsActiveContent(contentType))
        {
            return false;
        }

        return _options.AllowedContentTypes.Any(allowed => allowed.EndsWith("/*", StringComparison.Ordinal)
            ? contentType.StartsWith(allowed[..^1], StringComparison.OrdinalIgnoreCase)
            : string.Equals(allowed, contentType, StringComparison.OrdinalIgnoreCase));
    }

    // `type/subtype`, each an RFC 9110 token (no parameters, spaces or control characters), at most 100 characters.
    private static bool IsMediaType(string contentType)
    {
        var slash = contentType.IndexOf('/', StringComparison.Ordinal);
        return contentType.Length <= 100 && slash > 0 && slash < contentType.Length - 1
            && contentType.AsSpan(0, slash).IndexOfAnyExcept(TokenChars) < 0
            && contentType.AsSpan(slash + 1).IndexOfAnyExcept(TokenChars) < 0;
    }

    // Types a browser runs as a document (scripts inside SVG, HTML, XML): never granted, whatever the allowed list says.
    private static bool IsActiveContent(string contentType) =>
        contentType.EndsWith("+xml", StringComparison.OrdinalIgnoreCase) || contentType.EndsWith("/xml", StringComparison.OrdinalIgnoreCase)
        || contentType.Contains("html", StringComparison.OrdinalIgnoreCase) || contentType.Contains("javascript", StringComparison.OrdinalIgnoreCase);

    private IBlobStore RequireStore() =>
        _blobs ?? throw new MediaException(ErrorCode.BadRequest, "This node has no media store configured; attachments are not accepted.");

    private static Attachment ToAttachment(AttachmentRecord record) => new()
    {
        AttachmentId = record.AttachmentId,
        ContentType = record.ContentType,
        Size = (ulong)record.Size,
        Sha256 = record.Sha256,
    };
}
