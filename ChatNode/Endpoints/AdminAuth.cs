using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ChatNode.Auth;
using Microsoft.Extensions.Options;

namespace ChatNode.Endpoints;

/// <summary>
/// Credentials of admin requests (<c>POST /v1/admin/drain</c>): the header <see cref="TimeHeader"/> holds the unix time
/// in seconds and <see cref="SignatureHeader"/> base64url(HMAC-SHA256(cluster secret, "admin:" + action + ":" + node id
/// + ":" + time)). A request is accepted within <see cref="Validity"/> of its time, for the node it names only.
/// Thread-safe.
/// </summary>
public sealed class AdminAuth(IOptions<AuthOptions> options, TimeProvider time)
{
    public const string TimeHeader = "x-chatnode-admin-time";
    public const string SignatureHeader = "x-chatnode-admin-auth";

    public static readonly TimeSpan Validity = TimeSpan.FromMinutes(2);

    private readonly byte[] _key = Encoding.UTF8.GetBytes(options.Value.Secret);

    /// <summary>The two headers for <paramref name="action"/> on <paramref name="nodeId"/>, signed now.</summary>
    public (string Time, string Signature) Sign(string action, string nodeId)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return (now, Signature(action, nodeId, now));
    }

    public bool Verify(string action, string nodeId, string? timeText, string? signature)
    {
        if (!long.TryParse(timeText, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || signature is null
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            || (time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > Validity)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Signature(action, nodeId, timeText!)), Encoding.ASCII.GetBytes(signature));
    }

    private string Signature(string action, string nodeId, string unixSeconds) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"admin:{action}:{nodeId}:{unixSeconds}")));
}
