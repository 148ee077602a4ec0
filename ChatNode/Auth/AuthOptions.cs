using Microsoft.Extensions.Options;

namespace ChatNode.Auth;

/// <summary>Token options (configuration section <c>Auth</c>; the secret also from the environment variable <c>CHATNODE_SECRET</c>).</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The cluster secret every node signs and checks tokens with. At least 16 characters.</summary>
    public string Secret { get; set; } = "";

    /// <summary>Lifetime of tokens minted by <c>chatnode token</c> when no <c>--ttl</c> is given. Default 24 h.</summary>
    public TimeSpan DefaultTokenTtl { get; set; } = TimeSpan.FromHours(24);
}

internal sealed class AuthOptionsValidator : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options) =>
        options.Secret.Length < 16
            ? ValidateOptionsResult.Fail("Auth:Secret (or CHATNODE_SECRET) must be set to at least 16 characters.")
            : ValidateOptionsResult.Success;
}
