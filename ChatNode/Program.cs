using ChatNode.Auth;
using ChatNode.Fleet;
using ChatNode.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode;

/// <summary>The <c>chatnode</c> command: <c>serve</c> (default) runs a node; <c>token</c> mints a client token.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "serve";
        var rest = args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args;
        switch (command)
        {
            case "serve":
                return await ServeAsync(rest).ConfigureAwait(false);
            case "token":
                return Token(rest);
            case "ring":
                return await RingAsync(rest).ConfigureAwait(false);
            case "route":
                return await RouteAsync(rest).ConfigureAwait(false);
            case "help" or "--help" or "-h":
                Console.WriteLine(Usage);
                return 0;
            default:
                await Console.Error.WriteLineAsync($"unknown command '{command}'\n{Usage}").ConfigureAwait(false);
                return 2;
        }
    }

    private const string Usage = """
        usage:
          chatnode [serve] [--Node:Listen=http://127.0.0.1:8080] [--Section:Key=value ...]
          chatnode token --user USER --client CLIENT [--ttl 24h]
          chatnode ring [--Registry:Endpoints=URL]               the fleet's members, states, epoch and key-space shares
          chatnode route --user USER [--Registry:Endpoints=URL]  the node that owns USER
        (ring and route read etcd from Registry:Endpoints, Registry__Endpoints or CHATNODE_ETCD)
        settings come from appsettings.json, environment variables (Node__Listen, Storage__Redis__Endpoints,
        Auth__Secret, or the short CHATNODE_LISTEN, CHATNODE_REDIS, CHATNODE_SECRET, CHATNODE_NODE_ID) and
        --Section:Key=value, which wins over all of them.
        """;

    private static async Task<int> ServeAsync(string[] args)
    {
        var app = ChatNodeHost.Build(args);
        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync("invalid configuration: " + string.Join("; ", ex.Failures)).ConfigureAwait(false);
            return 2;
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ChatNode");
        HostingLog.Listening(logger, app.Services.GetRequiredService<IOptions<FleetOptions>>().Value.NodeId, app.ListenUrl());
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }

    private static int Token(string[] args)
    {
        string? user = null, client = null, ttlText = null;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--user": user = args[i + 1]; break;
                case "--client": client = args[i + 1]; break;
                case "--ttl": ttlText = args[i + 1]; break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}\n{Usage}");
                    return 2;
            }
        }

        var configuration = new ConfigurationBuilder().AddJsonFile("appsettings.json", optional: true).AddEnvironmentVariables();
        ChatNodeHost.AddChatNodeConfiguration(configuration);
        var options = configuration.Build().GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        if (options.Problem() is { } problem)
        {
            Console.Error.WriteLine(problem);
            return 2;
        }

        if (user is null || client is null || !Ids.IsValidUserId(user) || !Ids.IsValidClientId(client))
        {
            Console.Error.WriteLine($"--user and --client are required: 1-64 characters of letters, digits and . _ - @\n{Usage}");
            return 2;
        }

        var ttl = options.DefaultTokenTtl;
        if (ttlText is not null && !(DurationText.TryParse(ttlText, out ttl) && ttl > TimeSpan.Zero))
        {
            Console.Error.WriteLine("--ttl takes a duration such as 90s, 30m, 24h or 7d");
            return 2;
        }

        Console.WriteLine(new TokenService(options, TimeProvider.System).Mint(user, client, ttl));
        return 0;
    }

    private static async Task<int> RingAsync(string[] args)
    {
        var snapshot = await ReadRingAsync(args).ConfigureAwait(false);
        if (snapshot is null)
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
    }

    private static async Task<int> RouteAsync(string[] args)
    {
        var user = args.Length >= 2 && args[0] == "--user" ? args[1] : null;
        if (!Ids.IsValidUserId(user))
        {
            Console.Error.WriteLine($"--user USER is required\n{Usage}");
            return 2;
        }

        var snapshot = await ReadRingAsync(args[2..]).ConfigureAwait(false);
        if (snapshot?.OwnerOf(user) is not { } owner)
        {
            Console.Error.WriteLine(snapshot is null ? "" : "the fleet has no members");
            return 2;
        }

        Console.WriteLine($"{user} -> {owner.NodeId} {owner.WebSocketUrl} (epoch {snapshot.Epoch})");
        return 0;
    }

    /// <summary>Reads the fleet's membership once from etcd (Registry:Endpoints, or CHATNODE_ETCD).</summary>
    private static async Task<Registry.Ring.RingSnapshot?> ReadRingAsync(string[] args)
    {
        var configuration = new ConfigurationBuilder().AddJsonFile("appsettings.json", optional: true).AddEnvironmentVariables();
        ChatNodeHost.AddChatNodeConfiguration(configuration);
        configuration.AddCommandLine(args);
        var options = configuration.Build().GetSection(Registry.RegistryOptions.Section).Get<Registry.RegistryOptions>() ?? new Registry.RegistryOptions();
        if (options.Endpoints.Length == 0)
        {
            Console.Error.WriteLine("no etcd configured: set CHATNODE_ETCD or --Registry:Endpoints=http://127.0.0.1:2379");
            return null;
        }

        options.StartTimeout = TimeSpan.FromSeconds(5);
        await using var registry = new Registry.Etcd.EtcdRegistry(Options.Create(options), Microsoft.Extensions.Logging.Abstractions.NullLogger<Registry.Etcd.EtcdRegistry>.Instance);
        await registry.StartAsync(CancellationToken.None).ConfigureAwait(false);
        if (registry.Current.Epoch == 0)
        {
            Console.Error.WriteLine($"etcd at {options.Endpoints} did not answer");
            return null;
        }

        return registry.Current;
    }
}
