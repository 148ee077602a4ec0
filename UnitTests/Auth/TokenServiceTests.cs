using ChatNode.Auth;
using Microsoft.Extensions.Options;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Auth;

[TestFixture]
[Fast]
public sealed class TokenServiceTests
{
    private sealed class FakeClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly DateTimeOffset Start = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    private static TokenService Service(TimeProvider clock, string secret = "a-test-secret-of-enough-length") =>
        new(new AuthOptions { Secret = secret }, clock);

    [Test]
    public void A_minted_token_validates_to_its_user_client_and_expiry()
    {
        var clock = new FakeClock(Start);
        var token = Service(clock).Mint("alice", "phone", TimeSpan.FromHours(2));
        Assert.That(Service(clock).TryValidate(token, out var identity, out var reason), Is.True, reason);
        Assert.Multiple(() =>
        {
            Assert.That(identity.UserId, Is.EqualTo("alice"));
            Assert.That(identity.ClientId, Is.EqualTo("phone"));
            Assert.That(identity.ExpiresAt, Is.EqualTo(Start.AddHours(2)));
        });
    }

    [Test]
    public void A_token_is_refused_once_expired()
    {
        var clock = new FakeClock(Start);
        var token = Service(clock).Mint("alice", "phone", TimeSpan.FromMinutes(5));
        clock.Now = Start.AddMinutes(5);
        Assert.That(Service(clock).TryValidate(token, out _, out var reason), Is.False);
        Assert.That(reason, Is.EqualTo("token expired"));
    }

    [Test]
    public void A_token_signed_with_another_secret_or_altered_is_refused()
    {
        var clock = new FakeClock(Start);
        var token = Service(clock, "another-secret-entirely-123").Mint("alice", "phone", TimeSpan.FromHours(1));
        Assert.That(Service(clock).TryValidate(token, out _, out var reason), Is.False);
        Assert.That(reason, Is.EqualTo("bad token signature"));

        // Re-sign nothing, just swap the payload for bob's: the signature no longer matches.
        var mine = Service(clock).Mint("alice", "phone", TimeSpan.FromHours(1)).Split('.');
        var bobs = Service(clock).Mint("bob", "phone", TimeSpan.FromHours(1)).Split('.');
        Assert.That(Service(clock).TryValidate($"v1.{bobs[1]}.{mine[2]}", out _, out _), Is.False);
    }

    [Test]
    public void A_token_carries_when_it_was_issued_and_one_without_is_dated_as_early_as_it_can_be()
    {
        var clock = new FakeClock(Start);
        Assert.That(Service(clock).TryValidate(Service(clock).Mint("alice", "phone", TimeSpan.FromHours(2)), out var minted, out _), Is.True);
        Assert.That(minted.IssuedAt, Is.EqualTo(Start));

        var legacy = Signed(Payload(Start.AddHours(2).ToUnixTimeSeconds()));
        Assert.That(Service(clock).TryValidate(legacy, out var old, out var reason), Is.True, reason);
        Assert.That(old.IssuedAt, Is.EqualTo(Start.AddHours(2) - new AuthOptions().MaxTokenLifetime), "issued at the earliest: its expiry less the longest lifetime");
    }

    [Test]
    public void A_signature_in_any_but_the_canonical_encoding_is_refused()
    {
        var clock = new FakeClock(Start);
        var token = Service(clock).Mint("alice", "phone", TimeSpan.FromHours(1));
        var dot = token.LastIndexOf('.');
        var bytes = Convert.FromBase64String(Pad(token[(dot + 1)..].Replace('-', '+').Replace('_', '/')));
        var standard = Convert.ToBase64String(bytes);
        Assert.That(standard, Does.EndWith("="), "HMAC-SHA256 in standard base64 is padded");
        Assert.That(Service(clock).TryValidate(token[..dot] + "." + standard, out _, out var reason), Is.False);
        Assert.That(reason, Is.EqualTo("bad token signature"));
        Assert.That(Service(clock).TryValidate(token + "=", out _, out _), Is.False, "a trailing pad");
    }

    [TestCase(long.MaxValue)]
    [TestCase(-5L)]
    [TestCase(253402300800L)]
    public void A_signed_token_with_an_expiry_out_of_range_is_refused_without_an_exception(long exp)
    {
        var clock = new FakeClock(Start);
        Assert.That(Service(clock).TryValidate(Signed(Payload(exp)), out _, out var reason), Is.False);
        Assert.That(reason, Is.EqualTo("malformed token"));
    }

    [Test]
    public void A_token_valid_for_longer_than_the_longest_lifetime_is_refused_and_not_minted()
    {
        var clock = new FakeClock(Start);
        Assert.That(Service(clock).TryValidate(Signed(Payload(Start.AddDays(400).ToUnixTimeSeconds())), out _, out var reason), Is.False);
        Assert.That(reason, Is.EqualTo("token valid for longer than allowed"));
        Assert.Throws<ArgumentException>(() => Service(clock).Mint("alice", "phone", TimeSpan.FromDays(31)));
    }

    private static string Payload(long exp) =>
        "{\"u\":\"alice\",\"c\":\"phone\",\"exp\":" + exp.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}";

    // A token with any payload, correctly signed with the test secret.
    private static string Signed(string json)
    {
        var payload = "v1." + System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(json));
        var signature = System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes("a-test-secret-of-enough-length"), System.Text.Encoding.UTF8.GetBytes(payload));
        return payload + "." + System.Buffers.Text.Base64Url.EncodeToString(signature);
    }

    private static string Pad(string base64) => base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');

    [TestCase(null, "missing token")]
    [TestCase("", "missing token")]
    [TestCase("Bearer x", "malformed token")]
    [TestCase("v1.", "malformed token")]
    [TestCase("v1.abc", "malformed token")]
    [TestCase("v1.abc.!!!", "bad token signature")]
    public void Malformed_tokens_are_refused_with_a_reason(string? token, string expected)
    {
        Assert.That(Service(TimeProvider.System).TryValidate(token, out _, out var reason), Is.False);
        Assert.That(reason, Is.EqualTo(expected));
    }

    [TestCase("with space")]
    [TestCase("brace{")]
    [TestCase("colon:")]
    [TestCase("")]
    public void Minting_refuses_ids_the_store_cannot_hold(string user) =>
        Assert.Throws<ArgumentException>(() => Service(TimeProvider.System).Mint(user, "phone", TimeSpan.FromHours(1)));
}
