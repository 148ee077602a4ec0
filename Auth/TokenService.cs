using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ChatNode.Auth;

/// <summary>
/// The identity a valid token names. <see cref="IssuedAt"/> is the token's <c>iat</c>, or for a token without one the
/// earliest it can have been issued (its expiry less <see cref="AuthOptions.MaxTokenLifetime"/>).
/// </summary>
public readonly record struct TokenIdentity(string UserId, string ClientId, DateTimeOffset ExpiresAt, DateTimeOffset IssuedAt);

/// <summary>
/// Bearer tokens: <c>v1.&lt;payload&gt;.&lt;signature&gt;</c>, where payload is base64url JSON
/// <c>{"u":user,"c":client,"exp":unix seconds,"iat":unix seconds}</c> (<c>iat</c> optional) and signature is the
/// unpadded base64url HMAC-SHA256 of <c>v1.&lt;payload&gt;</c> with the cluster secret, in exactly that encoding. A token
/// may be valid for at most <see cref="AuthOptions.MaxTokenLifetime"/>. Thread-safe.
/// </summary>
public sealed class TokenService
{
    private const string Prefix = "v1.";
    // A token issued this far in the future of the node's clock is still taken (clocks differ a little).
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);
    private static readonly long MaxUnixSeconds = DateTimeOffset.MaxValue.ToUnixTimeSeconds();

    private readonly byte[] _key;
    private readonly TimeProvider _time;
    private readonly TimeSpan _maxLifetime;

    public TokenService(AuthOptions options, TimeProvider time)
    {
        _key = Encoding.UTF8.GetBytes(options.Secret);
        _time = time;
        _maxLifetime = options.MaxTokenLifetime;
    }

    public string Mint(string userId, string clientId, TimeSpan ttl)
    {
        if (!Ids.IsValidUserId(userId) || !Ids.IsValidClientId(clientId))
        {
            throw new ArgumentException("User and client ids must be 1-64 characters of letters, digits and . _ - @.");
        }

        // A negative ttl mints a token that has expired already (to test refusals); a longer one than the nodes take, never.
        if (ttl > _maxLifetime)
        {
            throw new ArgumentException($"A token lives at most {_maxLifetime.TotalDays:0.##} days (Auth:MaxTokenLifetime).", nameof(ttl));
        }

        var now = _time.GetUtcNow();
        var exp = now.Add(ttl).ToUnixTimeSeconds();
        var json = JsonSerializer.SerializeToUtf8Bytes(new Payload { U = userId, C = clientId, Exp = exp, Iat = now.ToUnixTimeSeconds() }, PayloadContext.Default.Payload);
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

        // The signature must be the canonical encoding (unpadded base64url): another spelling of the same bytes is refused.
        var signed = token[..lastDot];
        var expected = Encoding.ASCII.GetBytes(Base64Url.EncodeToString(Sign(signed)));
        var given = token.AsSpan(lastDot + 1);
        Span<byte> givenBytes = stackalloc byte[64];
        if (given.Length != expected.Length || Encoding.ASCII.GetBytes(given, givenBytes) != expected.Length
            || !CryptographicOperations.FixedTimeEquals(givenBytes[..expected.Length], expected))
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

        if (payload is null || !Ids.IsValidUserId(payload.U) || !Ids.IsValidClientId(payload.C)
            || payload.Exp is <= 0 || payload.Exp > MaxUnixSeconds || payload.Iat is < 0 || payload.Iat > MaxUnixSeconds)
        {
            reason = "malformed token";
            return false;
        }

        var now = _time.GetUtcNow();
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(payload.Exp);
        if (expiresAt <= now)
        {
            reason = "token expired";
            return false;
        }

        if (expiresAt > now + _maxLifetime + ClockSkew)
        {
            reason = "token valid for longer than allowed";
            return false;
        }

        var issuedAt = payload.Iat is { } iat ? DateTimeOffset.FromUnixTimeSeconds(iat) : expiresAt - _maxLifetime;
        if (issuedAt > now + ClockSkew || issuedAt >= expiresAt)
        {
            reason = "malformed token";
            return false;
        }

        identity = new TokenIdentity(payload.U!, payload.C!, expiresAt, issuedAt);
        reason = "";
        return true;
    }

    private byte[] Sign(string signed) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(signed));

    internal sealed class Payload
    {
        public string? U { get; set; }

        public string? C { get; set; }

        public long Exp { get; set; }

        [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        public long? Iat { get; set; }
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(TokenService.Payload))]
internal sealed partial class PayloadContext : System.Text.Json.Serialization.JsonSerializerContext;
