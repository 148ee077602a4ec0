using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ChatNode.Auth;

/// <summary>
/// Credentials of a node's admin requests (<c>POST /v1/admin/drain</c>): the header <see cref="TimeHeader"/> holds the
/// unix time in seconds, <see cref="SignatureHeader"/> base64url(HMAC-SHA256(cluster secret, "admin:" + action + ":" +
/// node id + ":" + time)). A node accepts one within <see cref="Validity"/> of its time, naming that node only.
/// Stateless and thread-safe.
/// </summary>
public static class AdminSignature
{
    public const string TimeHeader = "x-chatnode-admin-time";
    public const string SignatureHeader = "x-chatnode-admin-auth";

    public static readonly TimeSpan Validity = TimeSpan.FromMinutes(2);

    /// <summary>The two header values for <paramref name="action"/> on <paramref name="nodeId"/>, signed at <paramref name="now"/>.</summary>
    public static (string Time, string Signature) Sign(string secret, string action, string nodeId, DateTimeOffset now)
    {
        var time = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return (time, Compute(secret, action, nodeId, time));
    }

    public static bool Verify(string secret, string action, string nodeId, string? time, string? signature, DateTimeOffset now)
    {
        if (!long.TryParse(time, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || signature is null
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            || (now - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > Validity)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Compute(secret, action, nodeId, time!)), Encoding.ASCII.GetBytes(signature));
    }

    private static string Compute(string secret, string action, string nodeId, string unixSeconds) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"admin:{action}:{nodeId}:{unixSeconds}")));
}
