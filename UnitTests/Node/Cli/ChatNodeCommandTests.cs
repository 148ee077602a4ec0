using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ChatNode.Auth;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node.Cli;

/// <summary>The <c>chatnode</c> command as an operator runs it: the built ChatNode.dll in a process of its own.</summary>
[TestFixture]
[Fast]
public sealed class ChatNodeCommandTests
{
    internal static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ChatNode.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["CHATNODE_SECRET"] = TestEnvironment.Secret;
        start.Environment["CHATNODE_FLEET_SECRET"] = TestEnvironment.FleetSecret;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await Poll.WithinAsync(process.WaitForExitAsync().ContinueWith(_ => true), $"chatnode {string.Join(' ', args)} to exit", TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output, await error);
    }

    [Test]
    public async Task Help_describes_every_command_and_starts_nothing()
    {
        var (code, output, _) = await RunAsync("--help");
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain("serve").And.Contain("token").And.Contain("ring").And.Contain("route"));
        (code, output, _) = await RunAsync("token", "--help");
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain("--user").And.Contain("--ttl"));
    }

    [Test]
    public async Task Token_mints_a_token_the_node_accepts_and_bad_arguments_are_named_with_exit_code_2()
    {
        var (code, output, error) = await RunAsync("token", "--user", "alice", "--client", "phone", "--ttl", "90s");
        Assert.That(code, Is.Zero, error);
        var tokens = new TokenService(new AuthOptions { Secret = TestEnvironment.Secret }, TimeProvider.System);
        Assert.That(tokens.TryValidate(output.Trim(), out var identity, out var reason), Is.True, reason);
        Assert.That((identity.UserId, identity.ClientId), Is.EqualTo(("alice", "phone")));
        Assert.That(identity.ExpiresAt, Is.LessThan(DateTimeOffset.UtcNow.AddSeconds(100)));

        (code, _, error) = await RunAsync("token", "--user", "al ice", "--client", "phone", "--ttl", "5w");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("'al ice' is not a valid id").And.Contain("'5w' is no duration"));
        Assert.That(error, Does.Not.Contain("   at "), "no stack trace");
    }

    [TestCase("--Node:HandoffWindow=2s", "Node:HandoffWindow")]
    [TestCase("--Node:HandoffMaxRate=0", "HandoffMaxRate")]
    public async Task Serve_with_a_bad_setting_names_it_without_a_stack_trace(string setting, string named)
    {
        var (code, output, error) = await RunAsync("serve", setting, "--Node:Listen=http://127.0.0.1:0", "--Node:PeerListen=http://127.0.0.1:0", "--Node:AdminListen=http://127.0.0.1:0", "--Registry:Endpoints=", "--Media:Store:Endpoint=");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("invalid configuration").And.Contain(named));
        Assert.That(output + error, Does.Not.Contain("   at "), "no stack trace");
    }
}

/// <summary>
/// <c>chatnode serve</c> failing to listen. The node opens its store connection before it listens, so this runs in the
/// integration tier, where the store answers at once (without it the connection attempt alone takes its timeout).
/// </summary>
[TestFixture]
public sealed class ChatNodeServeCommandTests
{
    [Test]
    public async Task Serve_on_a_taken_port_says_so_without_a_stack_trace()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var (code, output, error) = await ChatNodeCommandTests.RunAsync("serve", $"--Node:Listen=http://127.0.0.1:{port}", "--Node:PeerListen=http://127.0.0.1:0", "--Node:AdminListen=http://127.0.0.1:0", "--Registry:Endpoints=", "--Media:Store:Endpoint=");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("cannot listen").And.Contain(port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(output + error, Does.Not.Contain("   at "), "no stack trace");
    }
}
