namespace ChatNode.Auth;

/// <summary>Token options (configuration section <c>Auth</c>; the secret also from the environment variable <c>CHATNODE_SECRET</c>).</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The minimum length of <see cref="Secret"/>.</summary>
    public const int MinSecretLength = 16;

    /// <summary>The cluster secret every node signs and checks client tokens with. At least 16 characters.</summary>
    public string Secret { get; set; } = "";

    /// <summary>Lifetime of tokens minted by <c>chatnode token</c> when no <c>--ttl</c> is given. Default 24 h.</summary>
    public TimeSpan DefaultTokenTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// The longest a token may be valid: a token that expires later than this from now is refused. It bounds how long a
    /// deactivated client's old tokens must be remembered to lock it out. Default 30 days.
    /// </summary>
    public TimeSpan MaxTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Null when the options are usable; otherwise what is wrong, naming the setting.</summary>
    public string? Problem() =>
        Secret.Length < MinSecretLength ? $"Auth:Secret (or CHATNODE_SECRET) must be set to at least {MinSecretLength} characters."
        : MaxTokenLifetime < TimeSpan.FromMinutes(1) ? "Auth:MaxTokenLifetime must be at least a minute."
        : DefaultTokenTtl <= TimeSpan.Zero || DefaultTokenTtl > MaxTokenLifetime ? "Auth:DefaultTokenTtl must be positive and at most Auth:MaxTokenLifetime."
        : null;
}
