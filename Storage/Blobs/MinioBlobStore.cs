using Microsoft.Extensions.Options;
using Minio;
using Minio.DataModel.Args;
using Minio.DataModel.ILM;
using Minio.Exceptions;

namespace ChatNode.Storage.Blobs;

/// <summary>
/// <see cref="IBlobStore"/> with the Minio SDK: MinIO, AWS S3 and s3rver are configuration. Path-style URLs; signatures
/// are SigV4 (s3rver does not check them, MinIO and S3 do).
/// </summary>
public sealed class MinioBlobStore : IBlobStore, IDisposable
{
    private readonly IMinioClient _client;
    private readonly string _bucket;

    public MinioBlobStore(IOptions<BlobStoreOptions> options)
    {
        var o = options.Value;
        var endpoint = new Uri(o.Endpoint);
        _bucket = o.Bucket;
        _client = new MinioClient()
            .WithEndpoint(endpoint.Host, endpoint.Port)
            .WithCredentials(o.AccessKey, o.SecretKey)
            .WithRegion(o.Region)
            .WithSSL(endpoint.Scheme == Uri.UriSchemeHttps)
            .Build();
    }

    public async Task<bool> PrepareAsync(TimeSpan objectTtl, CancellationToken cancellationToken)
    {
        if (!await _client.BucketExistsAsync(new BucketExistsArgs().WithBucket(_bucket), cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await _client.MakeBucketAsync(new MakeBucketArgs().WithBucket(_bucket), cancellationToken).ConfigureAwait(false);
            }
            catch (MinioException)
            {
                // Another node may have created it meanwhile; anything else fails here.
                if (!await _client.BucketExistsAsync(new BucketExistsArgs().WithBucket(_bucket), cancellationToken).ConfigureAwait(false))
                {
                    throw;
                }
            }
        }

        try
        {
            var days = Math.Max(1, (int)Math.Ceiling(objectTtl.TotalDays));
            var rule = new LifecycleRule { ID = "chatnode-expiry", Status = LifecycleRule.LifecycleRuleStatusEnabled, Expiration = new Expiration { Days = days }, Filter = new RuleFilter() };
            await _client.SetBucketLifecycleAsync(
                new SetBucketLifecycleArgs().WithBucket(_bucket).WithLifecycleConfiguration(new LifecycleConfiguration([rule])), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is NotImplementedException or MinioException)
        {
            // s3rver answers 501: the node's sweeper expires objects instead.
            return false;
        }
    }

    public Task<Uri> PresignPutAsync(string key, TimeSpan expiry, CancellationToken cancellationToken) =>
        Guard(async () => new Uri(await _client.PresignedPutObjectAsync(new PresignedPutObjectArgs().WithBucket(_bucket).WithObject(key).WithExpiry(Seconds(expiry))).ConfigureAwait(false)));

    public Task<Uri> PresignGetAsync(string key, TimeSpan expiry, string contentType, string fileName, CancellationToken cancellationToken) =>
        Guard(async () =>
        {
            // Response overrides are part of the signed query: the store answers with these headers, and a holder of
            // the URL cannot change them.
            var overrides = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["response-content-type"] = contentType,
                ["response-content-disposition"] = $"attachment; filename=\"{fileName}\"",
            };
            var args = new PresignedGetObjectArgs().WithBucket(_bucket).WithObject(key).WithExpiry(Seconds(expiry)).WithHeaders(overrides);
            return new Uri(await _client.PresignedGetObjectAsync(args).ConfigureAwait(false));
        });

    public Task CopyAsync(string sourceKey, string destinationKey, CancellationToken cancellationToken) =>
        Guard(async () =>
        {
            var source = new CopySourceObjectArgs().WithBucket(_bucket).WithObject(sourceKey);
            await _client.CopyObjectAsync(new CopyObjectArgs().WithBucket(_bucket).WithObject(destinationKey).WithCopyObjectSource(source), cancellationToken).ConfigureAwait(false);
            return true;
        });

    public Task<BlobInfo?> StatAsync(string key, CancellationToken cancellationToken) =>
        Guard(async () =>
        {
            try
            {
                var stat = await _client.StatObjectAsync(new StatObjectArgs().WithBucket(_bucket).WithObject(key), cancellationToken).ConfigureAwait(false);
                return new BlobInfo(stat.Size, stat.ContentType, stat.LastModified);
            }
            catch (ObjectNotFoundException)
            {
                return (BlobInfo?)null;
            }
        });

    public Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        Guard(async () =>
        {
            await _client.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(_bucket).WithObject(key), cancellationToken).ConfigureAwait(false);
            return true;
        });

    // A store that fails or cannot be reached is reported like the chat store: unavailable, safe to retry.
    private static async Task<T> Guard<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MinioException or HttpRequestException or IOException || (ex is TaskCanceledException && ex.InnerException is TimeoutException))
        {
            throw new StoreUnavailableException("The media store did not answer: " + ex.Message, ex);
        }
    }

    public void Dispose() => _client.Dispose();

    private static int Seconds(TimeSpan expiry) => Math.Clamp((int)expiry.TotalSeconds, 1, 7 * 24 * 3600);
}
