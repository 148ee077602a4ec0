namespace ChatNode.Storage.Blobs;

/// <summary>S3-compatible blob store options (configuration section <c>Media:Store</c>; the endpoint also from <c>CHATNODE_S3</c>).</summary>
public sealed class BlobStoreOptions
{
    public const string Section = "Media:Store";

    /// <summary>The store's URL, e.g. <c>http://127.0.0.1:4569</c> (s3rver) or a MinIO endpoint. Empty: media is off.</summary>
    public string Endpoint { get; set; } = "";

    public string AccessKey { get; set; } = "S3RVER";

    public string SecretKey { get; set; } = "S3RVER";

    public string Region { get; set; } = "us-east-1";

    public string Bucket { get; set; } = "chatnode-media";
}
