using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace ChatNode.Auth;

/// <summary>
/// Credentials of a node's admin requests (<c>POST /v1/admin/drain</c>): the header <see cref="TimeHeader"/> holds the
/// unix time in seconds, <see cref="SignatureHeader"/> base64url(HMAC-SHA256(fleet secret, "admin:" + action + ":" +
/// node id + ":" + time)). A node accepts one within <see cref="Validity"/> of its time, naming that node only, on its
/// peer listener (HTTP/2). Stateless and thread-safe.
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

    /// <summary>
    /// The drain request for node <paramref name="nodeId"/> (what <c>chatnode drain</c> sends): a POST to its peer URL,
    /// HTTP/2 only, <paramref name="rate"/> connections a second (0: the node's configured pace), signed at <paramref name="now"/>.
    /// </summary>
    public static HttpRequestMessage DrainRequest(Uri peerUrl, string fleetSecret, string nodeId, int rate, DateTimeOffset now)
    {
        var url = new UriBuilder(peerUrl) { Path = "/v1/admin/drain", Query = rate > 0 ? "rate=" + rate.ToString(CultureInfo.InvariantCulture) : "" };
        var request = new HttpRequestMessage(HttpMethod.Post, url.Uri) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var (time, signature) = Sign(fleetSecret, "drain", nodeId, now);
        request.Headers.Add(TimeHeader, time);
        request.Headers.Add(SignatureHeader, signature);
        return request;
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
