using ChatNode.Auth;
using ChatNode.Commands;
using ChatNode.Connections;
using ChatNode.Delivery;
using System.Net;
using ChatNode.Diagnostics;
using ChatNode.Media;
using ChatNode.Storage.Blobs;
using ChatNode.Fleet;
using ChatNode.Peering;
using ChatNode.Registry;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ChatNode.Storage;
using ChatNode.Storage.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Hosting;

/// <summary>
/// Composes a node: configuration, services and endpoints. Start order: options are validated, the store
/// connects, background loops start, then Kestrel accepts connections; stop runs in reverse (connections are
/// drained before Kestrel stops).
/// </summary>
public static class ChatNodeHost
{
    /// <summary>Short environment variables for the settings people set most.</summary>
    private static readonly (string Variable, string Key)[] ShortVariables =
    [
        ("CHATNODE_SECRET", "Auth:Secret"),
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
            InitialData = new Dictionary<string, string?> { ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning" },
        });
        AddChatNodeConfiguration(builder.Configuration, overrides);

        // Command-line settings win over everything, the short CHATNODE_* variables included.
        builder.Configuration.AddCommandLine(args);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        var defaults = new ChatNodeOptions();
        var listen = new Uri(builder.Configuration[$"{ChatNodeOptions.Section}:{nameof(ChatNodeOptions.Listen)}"] ?? defaults.Listen);
        var peerListen = new Uri(builder.Configuration[$"{ChatNodeOptions.Section}:{nameof(ChatNodeOptions.PeerListen)}"] ?? defaults.PeerListen);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // Order matters: FleetMembership reads the bound addresses in this order (WebSocket, then peer).
            Listen(kestrel, listen, HttpProtocols.Http1);
            Listen(kestrel, peerListen, HttpProtocols.Http2);
        });
        builder.Services.AddChatNode(builder.Configuration);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseWebSockets();
        app.Map("/ws", (HttpContext context, WebSocketHandler handler) => handler.HandleAsync(context));
        app.MapGrpcService<PeerService>();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/v1/route", (string? user, Ownership ownership) =>
        {
            if (!Ids.IsValidUserId(user))
            {
                return Results.Json(new RouteError("user must be a valid user id"), RouteContext.Default.RouteError, statusCode: StatusCodes.Status400BadRequest);
            }

            var owner = ownership.OwnerOf(user) ?? ownership.Self;
            return owner is null
                ? Results.Json(new RouteError("no node owns users yet"), RouteContext.Default.RouteError, statusCode: StatusCodes.Status503ServiceUnavailable)
                : Results.Json(new RouteAnswer(user, owner.NodeId, owner.WebSocketUrl, ownership.Ring.Epoch), RouteContext.Default.RouteAnswer);
        });
        app.MapGet("/readyz", async (IStoreHealth store, IHostApplicationLifetime lifetime, Ownership ownership, CancellationToken ct) =>
        {
            if (lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return Results.Text("stopping\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            if (ownership.Self is null)
            {
                return Results.Text("not registered in the fleet yet\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            var (ready, reason) = await store.CheckAsync(ct).ConfigureAwait(false);
            return Results.Text(reason + "\n", statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapGet("/metrics", (PrometheusExporter exporter) => Results.Text(exporter.Scrape(), "text/plain; version=0.0.4; charset=utf-8"));
        return app;
    }

    public static IServiceCollection AddChatNode(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ChatNodeOptions>().Bind(configuration.GetSection(ChatNodeOptions.Section)).ValidateOnStart();
        services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<ChatNodeOptions>, ChatNodeOptionsDefaults>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ChatNodeOptions>, ChatNodeOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddRedisStorage(configuration);
        services.AddSingleton<ChatMetrics>();
        services.AddSingleton(_ => new PrometheusExporter([ChatMetrics.MeterName, StorageMetrics.MeterName, "System.Runtime"]));
        services.AddClusterRegistry(configuration);
        services.AddGrpc();
        services.AddSingleton<Ownership>();
        services.AddSingleton<PeerAuth>();
        services.AddSingleton<PeerForwarder>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<DeliveryService>();
        services.AddSingleton<CommandDispatcher>();
        services.AddSingleton<WebSocketHandler>();
        services.AddOptions<MediaOptions>().Bind(configuration.GetSection(MediaOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MediaOptions>, MediaOptionsValidator>());
        services.AddOptions<BlobStoreOptions>().Bind(configuration.GetSection(BlobStoreOptions.Section));
        if (configuration[$"{BlobStoreOptions.Section}:{nameof(BlobStoreOptions.Endpoint)}"] is { Length: > 0 })
        {
            services.AddSingleton<IBlobStore, MinioBlobStore>();
            services.AddHostedService<AttachmentSweeper>();
        }

        services.AddSingleton(sp => new MediaService(
            sp.GetRequiredService<IAttachmentStore>(),
            sp.GetRequiredService<IChatStore>(),
            sp.GetRequiredService<IOptions<MediaOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<IBlobStore>()));
        services.AddHostedService<FleetMembership>();
        services.AddHostedService(sp => sp.GetRequiredService<PeerForwarder>());
        services.AddHostedService<StoreWarmup>();
        services.AddHostedService<RedeliverySweeper>();
        services.AddHostedService<ConnectionDrainer>();
        return services;
    }

    /// <summary>The URL the node listens on for WebSockets once started (resolves port 0).</summary>
    public static string ListenUrl(this WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    private static void Listen(KestrelServerOptions kestrel, Uri url, HttpProtocols protocols)
    {
        void Configure(ListenOptions options) => options.Protocols = protocols;
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

internal sealed record RouteAnswer(string User, string NodeId, string Url, long Epoch);

internal sealed record RouteError(string Error);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RouteAnswer))]
[System.Text.Json.Serialization.JsonSerializable(typeof(RouteError))]
internal sealed partial class RouteContext : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>Connects to the store before Kestrel accepts connections, so a node without a store never looks ready.</summary>
internal sealed class StoreWarmup(IStoreHealth store, ChatMetrics metrics, PrometheusExporter exporter, ILogger<StoreWarmup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _ = metrics;
        _ = exporter;
        var (ready, reason) = await store.CheckAsync(cancellationToken).ConfigureAwait(false);
        if (!ready)
        {
            ChatLog.StoreNotReady(logger, reason);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
