using ChatNode.Auth;
using ChatNode.Client;
using ChatNode.Hosting;
using ChatNode.Storage.Memory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatNode.UnitTests.Infrastructure;

/// <summary>
/// A real chat node in this process: Kestrel on a free loopback port, the real Redis Cluster store.
/// Stopped (gracefully, with a deadline) by <see cref="DisposeAsync"/>, also when a test fails.
/// </summary>
public sealed class TestNode : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;

    private TestNode(WebApplication app, Uri baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        PeerUrl = new Uri(addresses[1]);
        AdminUrl = new Uri(addresses[2]);
        WsUrl = new Uri($"ws://{baseUrl.Authority}/ws");
        Tokens = app.Services.GetRequiredService<TokenService>();
    }

    public Uri BaseUrl { get; }

    public Uri WsUrl { get; }

    /// <summary>The peer plane (HTTP/2: peer streams, admin requests).</summary>
    public Uri PeerUrl { get; }

    /// <summary>The admin plane (metrics, probes).</summary>
    public Uri AdminUrl { get; }

    public TokenService Tokens { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Starts a node; <paramref name="settings"/> override configuration keys (e.g. "Node:RedeliveryTimeout"). On
    /// <see cref="StoreBackend.Memory"/> the node keeps its data in <paramref name="store"/> (a new one if none is given)
    /// and has no media store.
    /// </summary>
    public static async Task<TestNode> StartAsync(
        IDictionary<string, string?>? settings = null, StoreBackend backend = StoreBackend.Redis, InMemoryStore? store = null, Action<IServiceCollection>? services = null)
    {
        var overrides = new Dictionary<string, string?>
        {
            ["Node:Listen"] = "http://127.0.0.1:0",
            ["Node:PeerListen"] = "http://127.0.0.1:0",
            ["Node:AdminListen"] = "http://127.0.0.1:0",
            ["Registry:Endpoints"] = "",
            ["Node:NodeId"] = TestEnvironment.NewId("node"),
            ["Node:ShutdownTimeout"] = "00:00:03",
            ["Auth:Secret"] = TestEnvironment.Secret,
            ["Auth:FleetSecret"] = TestEnvironment.FleetSecret,
            ["Storage:Redis:Endpoints"] = TestEnvironment.RedisEndpoints,
            ["Logging:LogLevel:Default"] = Environment.GetEnvironmentVariable("CHATNODE_TEST_LOGLEVEL") ?? "Warning",
        };
        if (backend == StoreBackend.Memory)
        {
            overrides["Media:Store:Endpoint"] = "";
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            overrides[key] = value;
        }

        var app = ChatNodeHost.Build([], overrides, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new FileLoggerProvider(overrides["Node:NodeId"]!));
            if (backend == StoreBackend.Memory)
            {
                builder.Services.UseInMemoryStorage(store ?? new InMemoryStore());
            }

            services?.Invoke(builder.Services);
        });
        await app.StartAsync();
        return new TestNode(app, new Uri(app.ListenUrl()));
    }

    public string Token(string user, string client, TimeSpan? ttl = null) => Tokens.Mint(user, client, ttl ?? TimeSpan.FromHours(1));

    public ChatClientOptions ClientOptions(string user, string client, ChatEncoding encoding = ChatEncoding.Proto) => new()
    {
        Url = WsUrl,
        TokenProvider = _ => ValueTask.FromResult(Token(user, client)),
        Encoding = encoding,
        RequestTimeout = TimeSpan.FromSeconds(20),
        ReconnectMaxDelay = TimeSpan.FromSeconds(1),
        SendRetryBudget = TimeSpan.FromSeconds(5),
    };

    /// <summary>Connects a reference client and waits until its inbox replay finished.</summary>
    public async Task<ChatClient> ConnectAsync(string user, string client, ChatEncoding encoding = ChatEncoding.Proto, Action<ChatClientOptions>? configure = null)
    {
        var options = ClientOptions(user, client, encoding);
        configure?.Invoke(options);
        var connected = await ChatClient.ConnectAsync(options);
        await Poll.WithinAsync(connected.InboxReplayed, $"inbox replay of {user}/{client}");
        return connected;
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _app.StopAsync(deadline.Token);
        await _app.DisposeAsync();
    }
}
