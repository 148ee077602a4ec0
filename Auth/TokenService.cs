using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ChatNode.Auth;

/// <summary>The identity a valid token names.</summary>
public readonly record struct TokenIdentity(string UserId, string ClientId, DateTimeOffset ExpiresAt);

/// <summary>
/// Bearer tokens: <c>v1.&lt;payload&gt;.&lt;signature&gt;</c>, where payload is base64url JSON
/// <c>{"u":user,"c":client,"exp":unix seconds}</c> and signature is base64url HMAC-SHA256 of <c>v1.&lt;payload&gt;</c>
/// with the cluster secret. Thread-safe.
/// </summary>
public sealed class TokenService
{
    private const string Prefix = "v1.";
    private readonly byte[] _key;
    private readonly TimeProvider _time;

    public TokenService(AuthOptions options, TimeProvider time)
    {
        _key = Encoding.UTF8.GetBytes(options.Secret);
        _time = time;
    }

    public string Mint(string userId, string clientId, TimeSpan ttl)
    {
        if (!Ids.IsValidUserId(userId) || !Ids.IsValidClientId(clientId))
        {
            throw new ArgumentException("User and client ids must be 1-64 characters of letters, digits and . _ - @.");
        }

        var exp = _time.GetUtcNow().Add(ttl).ToUnixTimeSeconds();
        var json = JsonSerializer.SerializeToUtf8Bytes(new Payload { U = userId, C = clientId, Exp = exp }, PayloadContext.Default.Payload);
        var signed = Prefix + Base64Url.EncodeToString(json);
        return signed + "." + Base64Url.EncodeToString(Sign(signed));
    }

    /// <summary>Checks signature, expiry and ids; the reason is safe to show the caller.</summary>
    public bool TryValidate(string? token, out TokenIdentity identity, out string reason)
    {
        identity = default;
        if (string.IsNullOrEmpty(token))
        {
            reason = "missing token";
            return false;
        }

        var lastDot = token.LastIndexOf('.');
        if (!token.StartsWith(Prefix, StringComparison.Ordinal) || lastDot <= Prefix.Length || token.Length > 4096)
        {
            reason = "malformed token";
            return false;
        }

        var signed = token[..lastDot];
        Span<byte> signature = stackalloc byte[64];
        if (!TryDecode(token.AsSpan(lastDot + 1), signature, out var signatureLength)
            || !CryptographicOperations.FixedTimeEquals(signature[..signatureLength], Sign(signed)))
        {
            reason = "bad token signature";
            return false;
        }

        Payload? payload;
        try
        {
            payload = JsonSerializer.Deserialize(Base64Url.DecodeFromChars(signed.AsSpan(Prefix.Length)), PayloadContext.Default.Payload);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            payload = null;
        }

        if (payload is null || !Ids.IsValidUserId(payload.U) || !Ids.IsValidClientId(payload.C))
        {
            reason = "malformed token";
            return false;
        }

        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(payload.Exp);
        if (expiresAt <= _time.GetUtcNow())
        {
            reason = "token expired";
            return false;
        }

        identity = new TokenIdentity(payload.U!, payload.C!, expiresAt);
        reason = "";
        return true;
    }

    // TryDecodeFromChars still throws on characters outside the alphabet; a token is untrusted input.
    private static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        try
        {
            return Base64Url.TryDecodeFromChars(text, destination, out written);
        }
        catch (FormatException)
        {
            written = 0;
            return false;
        }
    }

    private byte[] Sign(string signed) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(signed));

    internal sealed class Payload
    {
        public string? U { get; set; }

        public string? C { get; set; }

        public long Exp { get; set; }
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(TokenService.Payload))]
internal sealed partial class PayloadContext : System.Text.Json.Serialization.JsonSerializerContext;
