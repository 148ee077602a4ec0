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
        root.Subcommands.Add(Drain());
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

            // Disposed at the end so that the logs written while stopping (the drain) are flushed before the process exits.
            WebApplication? built = null;
            try
            {
                built = ChatNodeHost.Build(settings);
                await built.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OptionsValidationException ex)
            {
                await Console.Error.WriteLineAsync("invalid configuration: " + string.Join("; ", ex.Failures)).ConfigureAwait(false);
                return await DisposedAsync(built, 2).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex) when (ex.InnerException is FormatException)
            {
                // A value the options cannot hold ("2s" for a TimeSpan, which is written 00:00:02).
                await Console.Error.WriteLineAsync("invalid configuration: " + ex.Message).ConfigureAwait(false);
                return await DisposedAsync(built, 2).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                // Kestrel reports an address it cannot bind (taken port, no such interface) as an IOException.
                await Console.Error.WriteLineAsync("cannot listen: " + ex.Message).ConfigureAwait(false);
                return await DisposedAsync(built, 2).ConfigureAwait(false);
            }

            await using var app = built;

            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ChatNode");
            HostingLog.Listening(logger, app.Services.GetRequiredService<IOptions<FleetOptions>>().Value.NodeId, app.ListenUrl());
            await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        });
        return serve;
    }

    private static async Task<int> DisposedAsync(WebApplication? app, int exitCode)
    {
        if (app is not null)
        {
            await app.DisposeAsync().ConfigureAwait(false);
        }

        return exitCode;
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
            if (options.TokenProblem() is { } problem)
            {
                Console.Error.WriteLine(problem);
                return 2;
            }

            var lifetime = result.GetValue(ttl) ?? options.DefaultTokenTtl;
            if (lifetime > options.MaxTokenLifetime)
            {
                Console.Error.WriteLine($"--ttl may be at most Auth:MaxTokenLifetime ({options.MaxTokenLifetime.TotalDays:0.##} days): nodes refuse longer-lived tokens.");
                return 2;
            }

            Console.WriteLine(new TokenService(options, TimeProvider.System).Mint(result.GetValue(user)!, result.GetValue(client)!, lifetime));
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

            PrintRing(snapshot);

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

    private static Command Drain()
    {
        var node = new Argument<string>("NODE") { Description = "The id of the node to drain (chatnode ring lists them)." };
        var rate = new Option<int>("--rate") { Description = "Connections moved per second (default: spread over Node:HandoffWindow, at most Node:HandoffMaxRate)." };
        var wait = new Option<bool>("--wait") { Description = "Wait until the node has left the fleet, showing its progress (at most Node:DrainTimeout and a minute)." };
        rate.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) { r.AddError("--rate must be positive"); } });
        var drain = new Command("drain", "Drain a node (a request to its peer URL signed with the fleet secret, Auth:FleetSecret or CHATNODE_FLEET_SECRET): it leaves the target ring, moves its clients to their new owners at the handoff pace, then leaves the fleet and exits.") { node, rate, wait };
        drain.TreatUnmatchedTokensAsErrors = false;
        drain.SetAction(async (result, cancellationToken) =>
        {
            if (ConfigurationArguments(result) is not { } settings || await ReadRingAsync(result, cancellationToken).ConfigureAwait(false) is not { } snapshot)
            {
                return 2;
            }

            var id = result.GetValue(node)!;
            if (snapshot.Find(id) is not { } member)
            {
                Console.Error.WriteLine($"no node '{id}' in the fleet (epoch {snapshot.Epoch}): {string.Join(", ", snapshot.Members.Select(m => m.NodeId))}");
                return 2;
            }

            var configuration = Configuration(settings);
            var secret = configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
            if (secret.FleetProblem() is { } problem)
            {
                Console.Error.WriteLine(problem);
                return 2;
            }

            // Admin requests go to the peer plane (HTTP/2), never to the client plane.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            using var request = AdminSignature.DrainRequest(new Uri(member.PeerUrl), secret.FleetSecret, id, result.GetValue(rate), DateTimeOffset.UtcNow);
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                Console.Error.WriteLine($"{id} at {request.RequestUri} did not answer: {ex.Message}");
                return 1;
            }

            using (response)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"{id}: {(int)response.StatusCode} {body}");
                if (!response.IsSuccessStatusCode)
                {
                    return 1;
                }
            }

            return result.GetValue(wait) ? await WaitForLeaveAsync(result, id, cancellationToken).ConfigureAwait(false) : 0;
        });
        return drain;
    }

    // Shows the draining node's progress once a second until it has left the fleet.
    private static async Task<int> WaitForLeaveAsync(ParseResult result, string nodeId, CancellationToken cancellationToken)
    {
        var settings = ConfigurationArguments(result)!;
        var configuration = Configuration(settings);
        var registry = configuration.GetSection(RegistryOptions.Section).Get<RegistryOptions>() ?? new RegistryOptions();
        var fleet = configuration.GetSection(FleetOptions.Section).Get<FleetOptions>() ?? new FleetOptions();
        registry.StartTimeout = TimeSpan.FromSeconds(5);
        await using var watcher = new EtcdRegistry(Options.Create(registry), NullLogger<EtcdRegistry>.Instance);
        await watcher.StartAsync(cancellationToken).ConfigureAwait(false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(fleet.DrainTimeout + TimeSpan.FromMinutes(1));
        try
        {
            await foreach (var snapshot in watcher.WatchAsync(deadline.Token).ConfigureAwait(false))
            {
                if (snapshot.Find(nodeId) is not { } member)
                {
                    Console.WriteLine($"{nodeId} left the fleet (epoch {snapshot.Epoch})");
                    return 0;
                }

                Console.WriteLine($"{nodeId}: {member.State}, {member.ConnectionsLeft} connections left (epoch {snapshot.Epoch})");
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        Console.Error.WriteLine($"{nodeId} has not left the fleet yet");
        return 1;
    }

    private static void PrintRing(RingSnapshot snapshot)
    {
        var shares = snapshot.Current.Shares();
        var targetShares = snapshot.Target.Shares();
        Console.WriteLine($"epoch {snapshot.Epoch}, {snapshot.Members.Count} members");
        Console.WriteLine($"{"node",-24} {"state",-9} {"share",7} {"target",7} {"vnodes",6} {"moving",7}  websocket / peer");
        foreach (var member in snapshot.Members)
        {
            var share = shares.TryGetValue(member.NodeId, out var value) ? value : 0;
            var target = targetShares.TryGetValue(member.NodeId, out var targetValue) ? targetValue : 0;
            var moving = member.State == NodeState.Draining ? member.ConnectionsLeft.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "";
            Console.WriteLine($"{member.NodeId,-24} {member.State,-9} {share,7:P1} {target,7:P1} {member.VirtualNodes,6} {moving,7}  {member.WebSocketUrl} / {member.PeerUrl}");
        }
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
