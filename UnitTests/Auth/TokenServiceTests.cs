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
