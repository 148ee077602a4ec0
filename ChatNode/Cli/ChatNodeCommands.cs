using System.CommandLine;
using System.CommandLine.Parsing;
using ChatNode.Auth;
using ChatNode.Fleet;
using ChatNode.Hosting;
using ChatNode.Registry;
using ChatNode.Registry.Etcd;
using ChatNode.Registry.Ring;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ChatNode.Cli;

/// <summary>
/// The <c>chatnode</c> command line. Every command has its own <c>--help</c>; bad arguments are named, without stack
/// traces, and exit with 2. Settings come from appsettings.json, environment variables (<c>Node__Listen</c>, or the
/// short <c>CHATNODE_*</c> ones) and <c>--Section:Key=value</c> arguments, which win over all of them.
/// </summary>
public static class ChatNodeCommands
{
    private const string SettingsHelp =
        "Settings come from appsettings.json, environment variables (Node__Listen, Storage__Redis__Endpoints, Auth__Secret, or the short " +
        "CHATNODE_LISTEN, CHATNODE_REDIS, CHATNODE_SECRET, CHATNODE_NODE_ID, CHATNODE_ETCD, CHATNODE_S3) and --Section:Key=value " +
        "arguments, which win over all of them.";

    public static RootCommand Build()
    {
        var root = new RootCommand("chatnode: a node of the chat fleet, and tools to operate it. " + SettingsHelp);
        root.Subcommands.Add(Serve());
        root.Subcommands.Add(Token());
        root.Subcommands.Add(Ring());
        root.Subcommands.Add(Route());
        return root;
    }

    private static Command Serve()
    {
        var serve = new Command("serve", "Run a node until SIGTERM or Ctrl-C (then it leaves the fleet and drains its connections). " + SettingsHelp)
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        serve.SetAction(async (result, cancellationToken) =>
        {
            if (ConfigurationArguments(result) is not { } settings)
            {
                return 2;
            }

            var app = ChatNodeHost.Build(settings);
            try
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OptionsValidationException ex)
            {
                await Console.Error.WriteLineAsync("invalid configuration: " + string.Join("; ", ex.Failures)).ConfigureAwait(false);
                return 2;
            }
            catch (IOException ex)
            {
                // Kestrel reports an address it cannot bind (taken port, no such interface) as an IOException.
                await Console.Error.WriteLineAsync("cannot listen: " + ex.Message).ConfigureAwait(false);
                return 2;
            }

            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ChatNode");
            HostingLog.Listening(logger, app.Services.GetRequiredService<IOptions<FleetOptions>>().Value.NodeId, app.ListenUrl());
            await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        });
        return serve;
    }

    private static Command Token()
    {
        var user = new Option<string>("--user") { Description = "The user id (1-64 of letters, digits and . _ - @).", Required = true };
        var client = new Option<string>("--client") { Description = "The client (device) id, same rules.", Required = true };
        var ttl = new Option<TimeSpan?>("--ttl")
        {
            Description = "How long the token is valid: 90s, 30m, 24h, 7d (default: Auth:DefaultTokenTtl, 24h).",
            CustomParser = ParseDuration,
        };
        user.Validators.Add(r => RequireId(r, Ids.IsValidUserId));
        client.Validators.Add(r => RequireId(r, Ids.IsValidClientId));
        var token = new Command("token", "Mint a client token with the cluster secret (Auth:Secret or CHATNODE_SECRET); prints it.") { user, client, ttl };
        token.TreatUnmatchedTokensAsErrors = false;
        token.SetAction(result =>
        {
            if (ConfigurationArguments(result) is not { } settings)
            {
                return 2;
            }

            var options = Configuration(settings).GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
            if (options.Problem() is { } problem)
            {
                Console.Error.WriteLine(problem);
                return 2;
            }

            Console.WriteLine(new TokenService(options, TimeProvider.System).Mint(result.GetValue(user)!, result.GetValue(client)!, result.GetValue(ttl) ?? options.DefaultTokenTtl));
            return 0;
        });
        return token;
    }

    private static Command Ring()
    {
        var ring = new Command("ring", "Show the fleet read from etcd (Registry:Endpoints or CHATNODE_ETCD): members, states, epoch, key-space shares.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        ring.SetAction(async (result, cancellationToken) =>
        {
            if (await ReadRingAsync(result, cancellationToken).ConfigureAwait(false) is not { } snapshot)
            {
                return 2;
            }

            var shares = snapshot.Current.Shares();
            Console.WriteLine($"epoch {snapshot.Epoch}, {snapshot.Members.Count} members");
            Console.WriteLine($"{"node",-24} {"state",-9} {"share",7} {"vnodes",6}  websocket / peer");
            foreach (var member in snapshot.Members)
            {
                var share = shares.TryGetValue(member.NodeId, out var value) ? value : 0;
                Console.WriteLine($"{member.NodeId,-24} {member.State,-9} {share,7:P1} {member.VirtualNodes,6}  {member.WebSocketUrl} / {member.PeerUrl}");
            }

            return 0;
        });
        return ring;
    }

    private static Command Route()
    {
        var user = new Option<string>("--user") { Description = "The user id.", Required = true };
        user.Validators.Add(r => RequireId(r, Ids.IsValidUserId));
        var route = new Command("route", "Show the node that owns a user, from the fleet in etcd (Registry:Endpoints or CHATNODE_ETCD).") { user };
        route.TreatUnmatchedTokensAsErrors = false;
        route.SetAction(async (result, cancellationToken) =>
        {
            if (await ReadRingAsync(result, cancellationToken).ConfigureAwait(false) is not { } snapshot)
            {
                return 2;
            }

            var id = result.GetValue(user)!;
            if (snapshot.OwnerOf(id) is not { } owner)
            {
                Console.Error.WriteLine("the fleet has no members");
                return 2;
            }

            Console.WriteLine($"{id} -> {owner.NodeId} {owner.WebSocketUrl} (epoch {snapshot.Epoch})");
            return 0;
        });
        return route;
    }

    /// <summary>Reads the fleet's membership once from etcd; null (after saying why) when there is none to read.</summary>
    private static async Task<RingSnapshot?> ReadRingAsync(ParseResult result, CancellationToken cancellationToken)
    {
        if (ConfigurationArguments(result) is not { } settings)
        {
            return null;
        }

        var options = Configuration(settings).GetSection(RegistryOptions.Section).Get<RegistryOptions>() ?? new RegistryOptions();
        if (options.Endpoints.Length == 0)
        {
            Console.Error.WriteLine("no etcd configured: set CHATNODE_ETCD or --Registry:Endpoints=http://127.0.0.1:2379");
            return null;
        }

        options.StartTimeout = TimeSpan.FromSeconds(5);
        await using var registry = new EtcdRegistry(Options.Create(options), NullLogger<EtcdRegistry>.Instance);
        await registry.StartAsync(cancellationToken).ConfigureAwait(false);
        if (registry.Current.Epoch == 0)
        {
            Console.Error.WriteLine($"etcd at {options.Endpoints} did not answer");
            return null;
        }

        return registry.Current;
    }

    /// <summary>The <c>--Section:Key=value</c> arguments; null (after naming it) when another argument is left over.</summary>
    private static string[]? ConfigurationArguments(ParseResult result)
    {
        var unmatched = result.UnmatchedTokens;
        if (unmatched.FirstOrDefault(t => !(t.StartsWith("--", StringComparison.Ordinal) && t.Contains(':', StringComparison.Ordinal) && t.Contains('=', StringComparison.Ordinal))) is { } stray)
        {
            Console.Error.WriteLine($"unknown argument '{stray}': settings are written --Section:Key=value (see --help)");
            return null;
        }

        return [.. unmatched];
    }

    private static IConfiguration Configuration(string[] settings)
    {
        var configuration = new ConfigurationBuilder().AddJsonFile("appsettings.json", optional: true).AddEnvironmentVariables();
        ChatNodeHost.AddChatNodeConfiguration(configuration);
        return configuration.AddCommandLine(settings).Build();
    }

    private static TimeSpan? ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (DurationText.TryParse(text, out var duration) && duration > TimeSpan.Zero)
        {
            return duration;
        }

        result.AddError($"'{text}' is no duration: write 90s, 30m, 24h or 7d");
        return null;
    }

    private static void RequireId(OptionResult result, Func<string?, bool> valid)
    {
        if (result.Tokens.Count > 0 && !valid(result.Tokens[0].Value))
        {
            result.AddError($"'{result.Tokens[0].Value}' is not a valid id for {result.Option.Name}: 1-64 characters of letters, digits and . _ - @");
        }
    }
}
