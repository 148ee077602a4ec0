using System.Net;
using ChatNode.Auth;
using ChatNode.Commands;
using ChatNode.Connections;
using ChatNode.Delivery;
using ChatNode.Diagnostics;
using ChatNode.Endpoints;
using ChatNode.Fleet;
using ChatNode.Lifecycle;
using ChatNode.Media;
using ChatNode.Peering;
using ChatNode.Storage;
using ChatNode.Storage.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ChatNode.Hosting;

/// <summary>
/// Composes a node: configuration, each feature's services (bottom layer first), the routes, and the staged start
/// and stop (<see cref="LifecycleStage"/>, run by <see cref="StagedLifecycle"/>). Wiring only: no feature logic here.
/// </summary>
public static class ChatNodeHost
{
    /// <summary>Short environment variables for the settings people set most.</summary>
    private static readonly (string Variable, string Key)[] ShortVariables =
    [
        ("CHATNODE_SECRET", "Auth:Secret"),
        ("CHATNODE_FLEET_SECRET", "Auth:FleetSecret"),
        ("CHATNODE_REDIS", "Storage:Redis:Endpoints"),
        ("CHATNODE_LISTEN", "Node:Listen"),
        ("CHATNODE_NODE_ID", "Node:NodeId"),
        ("CHATNODE_ETCD", "Registry:Endpoints"),
        ("CHATNODE_S3", "Media:Store:Endpoint"),
    ];

    /// <summary>Adds the short <c>CHATNODE_*</c> variables (they win over other sources) and explicit overrides.</summary>
    public static void AddChatNodeConfiguration(IConfigurationBuilder configuration, IDictionary<string, string?>? overrides = null)
    {
        var mapped = new Dictionary<string, string?>();
        foreach (var (variable, key) in ShortVariables)
        {
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value)
            {
                mapped[key] = value;
            }
        }

        configuration.AddInMemoryCollection(mapped);
        if (overrides is not null)
        {
            configuration.AddInMemoryCollection(overrides);
        }
    }

    public static WebApplication Build(string[] args, IDictionary<string, string?>? overrides = null, Action<WebApplicationBuilder>? configure = null)
    {
        // The content root is the binary's folder: configuration files sit there, and the file watcher behind
        // reloadable configuration does not watch (and wake up for) whatever folder the node was started in.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

        // Defaults below every other source: per-request hosting logs are noise on a chat node.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",

                // A start that fails is reported once by the command (a clear message for a bad setting or a taken
                // port), not again with a stack trace by the host.
                ["Logging:LogLevel:Microsoft.Extensions.Hosting.Internal.Host"] = "Critical",
            },
        });
        AddChatNodeConfiguration(builder.Configuration, overrides);

        // Command-line settings win over everything, the short CHATNODE_* variables included.
        builder.Configuration.AddCommandLine(args);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        var listen = builder.Configuration.GetSection(NodeOptions.Section).Get<NodeOptions>() ?? new NodeOptions();
        var connections = builder.Configuration.GetSection(ConnectionOptions.Section).Get<ConnectionOptions>() ?? new ConnectionOptions();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // Order matters: NodeLifecycle and ListenerPlanes read the bound addresses in this order (client, peer, admin).
            Listen(kestrel, new Uri(listen.Listen), HttpProtocols.Http1, raw: listen.RawWebSocket, socketLimit: SocketLimit.For(connections, DescriptorLimit.Read()));
            Listen(kestrel, new Uri(listen.PeerListen), HttpProtocols.Http2);
            if (listen.AdminListen.Length > 0)
            {
                Listen(kestrel, new Uri(listen.AdminListen), HttpProtocols.Http1);
            }
        });
        builder.Services.AddChatNode(builder.Configuration);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseRouting();
        app.UsePlanes(app.Services.GetRequiredService<ListenerPlanes>());
        app.UseDevWebApp(app.Services.GetRequiredService<IOptions<DevOptions>>().Value, app.Services.GetRequiredService<ListenerPlanes>());
        app.UseWebSockets();
        app.MapChatNodeEndpoints();
        return app;
    }

    /// <summary>Registers every feature of a node, bottom layer first (docs/architecture.md, "Layers").</summary>
    public static IServiceCollection AddChatNode(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<NodeOptions>().Bind(configuration.GetSection(NodeOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NodeOptions>, NodeOptionsValidator>());
        services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton(sp => new TokenService(sp.GetRequiredService<IOptions<AuthOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
        services.AddChatNodeTelemetry(configuration);

        services.AddRedisStorage(configuration);
        services.AddSingleton<ILifecycleParticipant, StoreWarmup>();
        services.AddConnections(configuration);
        services.AddFleet(configuration);
        services.AddDelivery(configuration);
        services.AddPeering(configuration);
        services.AddMedia(configuration);
        services.AddCommands(configuration);
        services.AddEndpoints(configuration);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DevOptions>, DevOptionsValidator>());
        services.AddHostedService<StagedLifecycle>();

        // A stop drains first: the host waits for the drain and the connections' close before giving up.
        services.AddOptions<HostOptions>().Configure<IOptions<FleetOptions>, IOptions<ConnectionOptions>>(
            (host, fleet, connections) => host.ShutdownTimeout = fleet.Value.DrainTimeout + connections.Value.ShutdownTimeout + TimeSpan.FromSeconds(10));
        return services;
    }

    /// <summary>The URL the node listens on for WebSockets once started (resolves port 0).</summary>
    public static string ListenUrl(this WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    private static void Listen(KestrelServerOptions kestrel, Uri url, HttpProtocols protocols, bool raw = false, long? socketLimit = null)
    {
        void Configure(ListenOptions options)
        {
            options.Protocols = protocols;
            if (socketLimit is { } limit)
            {
                options.UseSocketLimit(limit);
            }

            if (raw)
            {
                options.UseRawWebSockets();
            }
        }

        switch (url.Host)
        {
            case "localhost":
                kestrel.ListenLocalhost(url.Port, Configure);
                break;
            case "0.0.0.0" or "*" or "+" or "[::]":
                kestrel.ListenAnyIP(url.Port, Configure);
                break;
            default:
                kestrel.Listen(IPAddress.Parse(url.Host.Trim('[', ']')), url.Port, Configure);
                break;
        }
    }
}

/// <summary>Refuses to start without a usable cluster secret.</summary>
internal sealed class AuthOptionsValidator : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options) =>
        options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}

/// <summary>Dev:Tokens only on a loopback client listener: a node reachable from elsewhere never hands out tokens.</summary>
internal sealed class DevOptionsValidator(IOptions<NodeOptions> node) : IValidateOptions<DevOptions>
{
    public ValidateOptionsResult Validate(string? name, DevOptions o) =>
        !o.Tokens || IsLoopback(node.Value.Listen)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("Dev:Tokens hands out tokens to anyone: it is refused unless Node:Listen is a loopback address (127.0.0.1, [::1], localhost).");

    private static bool IsLoopback(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && (uri.Host == "localhost" || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address)));
}
