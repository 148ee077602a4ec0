using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace ChatNode.Auth;

/// <summary>
/// Id rules. User and client ids: 1-64 characters from <c>[A-Za-z0-9._@-]</c> (no braces or colons, which the
/// store's key layout relies on). Chat ids are minted here: 22 base64url characters (no dots, which delivery ids rely on).
/// </summary>
public static class Ids
{
    public const int MaxIdLength = 64;
    public const int MaxClientMessageIdLength = 128;

    public static bool IsValidUserId([NotNullWhen(true)] string? id) => IsValidName(id);

    public static bool IsValidClientId([NotNullWhen(true)] string? id) => IsValidName(id);

    public static bool IsValidChatId([NotNullWhen(true)] string? id) =>
        id is { Length: 22 } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    public static bool IsValidClientMessageId([NotNullWhen(true)] string? id) =>
        id is { Length: > 0 and <= MaxClientMessageIdLength } && id.All(c => c is > ' ' and < (char)127);

    public static string NewChatId() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));

    /// <summary>128 random bits: unique, not secret (message ids are shown to every participant), so no crypto RNG.</summary>
    public static string NewMessageId()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private static bool IsValidName(string? id) =>
        id is { Length: > 0 and <= MaxIdLength } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@');
}
