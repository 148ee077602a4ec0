namespace ChatNode.Auth;

/// <summary>
/// Secrets and token options (configuration section <c>Auth</c>; the secrets also from the environment variables
/// <c>CHATNODE_SECRET</c> and <c>CHATNODE_FLEET_SECRET</c>).
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The minimum length of <see cref="Secret"/>.</summary>
    public const int MinSecretLength = 16;

    /// <summary>The cluster secret every node signs and checks client tokens with. At least 16 characters.</summary>
    public string Secret { get; set; } = "";

    /// <summary>
    /// The secret the nodes authenticate each other's peer streams and the operator's admin requests (drain) with: at
    /// least 16 characters and not <see cref="Secret"/>, so whoever mints client tokens (an app's backend) cannot act
    /// as a node or drain one.
    /// </summary>
    public string FleetSecret { get; set; } = "";

    /// <summary>Lifetime of tokens minted by <c>chatnode token</c> when no <c>--ttl</c> is given. Default 24 h.</summary>
    public TimeSpan DefaultTokenTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// The longest a token may be valid: a token that expires later than this from now is refused. It bounds how long a
    /// deactivated client's old tokens must be remembered to lock it out. Default 30 days.
    /// </summary>
    public TimeSpan MaxTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Null when the options are usable by a node; otherwise what is wrong, naming the setting.</summary>
    public string? Problem() => TokenProblem() ?? FleetProblem();

    /// <summary>Null when client tokens can be minted and checked (<see cref="Secret"/> and the lifetimes).</summary>
    public string? TokenProblem() =>
        Secret.Length < MinSecretLength ? $"Auth:Secret (or CHATNODE_SECRET) must be set to at least {MinSecretLength} characters."
        : MaxTokenLifetime < TimeSpan.FromMinutes(1) ? "Auth:MaxTokenLifetime must be at least a minute."
        : DefaultTokenTtl <= TimeSpan.Zero || DefaultTokenTtl > MaxTokenLifetime ? "Auth:DefaultTokenTtl must be positive and at most Auth:MaxTokenLifetime."
        : null;

    /// <summary>Null when peer and admin requests can be signed and checked (<see cref="FleetSecret"/>).</summary>
    public string? FleetProblem() =>
        FleetSecret.Length < MinSecretLength ? $"Auth:FleetSecret (or CHATNODE_FLEET_SECRET) must be set to at least {MinSecretLength} characters."
        : FleetSecret == Secret ? "Auth:FleetSecret must differ from Auth:Secret (client tokens must not open the peer and admin planes)."
        : null;
}
