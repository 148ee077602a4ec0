using System.Net;
using System.Net.Http.Json;
using ChatNode.Auth;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ChatNode.UnitTests.Node;

/// <summary>The development token endpoint of a local fleet: off by default, on only for a loopback listener.</summary>
[TestFixture]
[Fast]
public sealed class DevTokenTests
{
    [Test]
    public async Task With_dev_tokens_on_anyone_gets_a_token_the_node_accepts_and_bad_requests_are_named()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["Dev:Tokens"] = "true" }, StoreBackend.Memory);
        using var http = new HttpClient();
        using var response = await http.PostAsJsonAsync(new Uri(node.BaseUrl, "/v1/dev/token"), new { user = "alice", client = "web" });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var answer = await response.Content.ReadFromJsonAsync<Answer>();
        Assert.That(node.Tokens.TryValidate(answer!.Token, out var identity, out var reason), Is.True, reason);
        Assert.That((identity.UserId, identity.ClientId), Is.EqualTo(("alice", "web")));
        Assert.That(answer.ExpiresAtUnixMs, Is.GreaterThan(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));

        using var bad = await http.PostAsJsonAsync(new Uri(node.BaseUrl, "/v1/dev/token"), new { user = "al ice", client = "web" });
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        using var notJson = await http.PostAsync(new Uri(node.BaseUrl, "/v1/dev/token"), new StringContent("{"));
        Assert.That(notJson.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task By_default_there_is_no_dev_token_endpoint()
    {
        await using var node = await TestNode.StartAsync(backend: StoreBackend.Memory);
        using var http = new HttpClient();
        using var response = await http.PostAsJsonAsync(new Uri(node.BaseUrl, "/v1/dev/token"), new { user = "alice", client = "web" });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public void A_node_listening_beyond_loopback_refuses_to_start_with_dev_tokens()
    {
        var refused = Assert.ThrowsAsync<OptionsValidationException>(() => TestNode.StartAsync(
            new Dictionary<string, string?> { ["Dev:Tokens"] = "true", ["Node:Listen"] = "http://0.0.0.0:0" }, StoreBackend.Memory));
        Assert.That(refused!.Message, Does.Contain("Dev:Tokens"));
    }


    [Test]
    public async Task The_browser_app_and_its_library_are_served_on_the_client_listener_only_when_configured()
    {
        var root = Directory.CreateTempSubdirectory("chatnode-web-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "app"));
            Directory.CreateDirectory(Path.Combine(root, "dist"));
            await File.WriteAllTextAsync(Path.Combine(root, "app", "index.html"), "<title>chatnode test app</title>");
            await File.WriteAllTextAsync(Path.Combine(root, "dist", "index.js"), "export const ready = true;");
            await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["Dev:WebRoot"] = root }, StoreBackend.Memory);
            using var http = new HttpClient();
            Assert.That(await http.GetStringAsync(new Uri(node.BaseUrl, "/app/")), Does.Contain("chatnode test app"));
            using var library = await http.GetAsync(new Uri(node.BaseUrl, "/app/lib/index.js"));
            Assert.That(library.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(library.Content.Headers.ContentType?.MediaType, Does.Contain("javascript"), "a module the browser will run");
            Assert.That((await http.GetAsync(new Uri(node.AdminUrl, "/app/"))).StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "not on the admin listener");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        await using var plain = await TestNode.StartAsync(backend: StoreBackend.Memory);
        using var client = new HttpClient();
        Assert.That((await client.GetAsync(new Uri(plain.BaseUrl, "/app/"))).StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "no app unless configured");
    }

    private sealed record Answer(string Token, long ExpiresAtUnixMs);
}
