using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using ChatNode.Fleet;
using ChatNode.Registry;
using ChatNode.Registry.Memory;
using ChatNode.Storage.Memory;
using ChatNode.Registry.Ring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ChatNode.UnitTests.Infrastructure;

/// <summary>
/// A fleet of real nodes sharing the test etcd (under a prefix of its own) and Redis Cluster: in-process nodes
/// (<see cref="TestNode"/>) and, where a test must SIGKILL one, node processes. On <see cref="StoreBackend.Memory"/>
/// (the fast tier) the in-process nodes share an in-memory store and membership instead. Everything is stopped on dispose.
/// </summary>
public sealed class TestFleet : IAsyncDisposable
{
    private readonly List<NodeProcess> _processes = [];

    private TestFleet(string prefix, StoreBackend backend)
    {
        Prefix = prefix;
        Backend = backend;
        if (backend == StoreBackend.Memory)
        {
            Store = new InMemoryStore();
            Membership = new InMemoryMembership();
        }
    }

    public string Prefix { get; }

    public StoreBackend Backend { get; }

    /// <summary>The store the nodes share on <see cref="StoreBackend.Memory"/>.</summary>
    public InMemoryStore? Store { get; }

    /// <summary>The membership the nodes share on <see cref="StoreBackend.Memory"/>.</summary>
    public InMemoryMembership? Membership { get; }

    public List<TestNode> Nodes { get; } = [];

    public TestNode Seed => Nodes[0];

    public static async Task<TestFleet> StartAsync(int count, IDictionary<string, string?>? settings = null, StoreBackend backend = StoreBackend.Redis, Action<IServiceCollection>? services = null)
    {
        var fleet = new TestFleet($"/chatnode-test/{Guid.NewGuid():N}/", backend) { _services = services };
        try
        {
            for (var i = 0; i < count; i++)
            {
                await fleet.AddNodeAsync(settings);
            }

            await fleet.WaitConvergedAsync(count);
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    public Dictionary<string, string?> Settings(string nodeId, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Node:NodeId"] = nodeId,
            ["Registry:Endpoints"] = Backend == StoreBackend.Memory ? "" : TestEnvironment.EtcdEndpoint,
            ["Registry:Prefix"] = Prefix,
            ["Registry:LeaseTtl"] = "00:00:02",
            ["Node:HandoffWindow"] = "00:00:02",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    public async Task<TestNode> AddNodeAsync(IDictionary<string, string?>? settings = null)
    {
        var all = Settings($"n{Nodes.Count + _processes.Count}-{Guid.NewGuid():N}"[..12], settings);
        var node = await TestNode.StartAsync(all, Backend, Store, services =>
        {
            if (Membership is not null)
            {
                services.Replace(ServiceDescriptor.Singleton<IClusterRegistry>(Membership.CreateRegistry(TimeSpan.Parse(all["Registry:LeaseTtl"]!, System.Globalization.CultureInfo.InvariantCulture))));
            }

            _services?.Invoke(services);
        });
        Nodes.Add(node);
        return node;
    }

    private Action<IServiceCollection>? _services;

    /// <summary>Starts a node as a separate process (so a test can SIGKILL it) and waits until it is ready.</summary>
    public async Task<NodeProcess> AddProcessAsync(IDictionary<string, string?>? settings = null)
    {
        var process = await NodeProcess.StartAsync(Settings($"p{_processes.Count}-{Guid.NewGuid():N}"[..12], settings));
        _processes.Add(process);
        return process;
    }

    /// <summary>Waits until every in-process node sees <paramref name="members"/> members, all active (no transition in progress).</summary>
    public Task WaitConvergedAsync(int members, TimeSpan? timeout = null) =>
        Poll.UntilAsync(
            () => Nodes.All(n => Ring(n) is var ring && ring.Members.Count == members && ring.Members.All(m => m.State == NodeState.Active)),
            $"every node to see {members} active members", timeout);

    public static RingSnapshot Ring(TestNode node) => node.Services.GetRequiredService<Ownership>().View.Ring;

    public static string NodeIdOf(TestNode node) => node.Services.GetRequiredService<Ownership>().NodeId;

    /// <summary>A fresh user id that the ring assigns to <paramref name="nodeId"/>.</summary>
    public string UserOwnedBy(string nodeId, string prefix = "user")
    {
        var ring = Ring(Seed);
        for (var i = 0; i < 100_000; i++)
        {
            var user = TestEnvironment.NewId(prefix);
            if (ring.TargetOwnerOf(user)?.NodeId == nodeId)
            {
                return user;
            }
        }

        throw new InvalidOperationException($"no user maps to {nodeId}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }

        Membership?.Dispose();
    }
}

/// <summary>A chat node in its own process (the ChatNode.dll next to the tests), stopped by PID.</summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;

    private NodeProcess(Process process, string nodeId, Uri baseUrl)
    {
        _process = process;
        NodeId = nodeId;
        BaseUrl = baseUrl;
    }

    public string NodeId { get; }

    public Uri BaseUrl { get; }

    public int Pid => _process.Id;

    public static async Task<NodeProcess> StartAsync(IDictionary<string, string?> settings)
    {
        var port = FreePort();
        var peerPort = FreePort();
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ChatNode.dll"));
        start.ArgumentList.Add("serve");
        var all = new Dictionary<string, string?>(settings)
        {
            ["Node:Listen"] = $"http://127.0.0.1:{port}",
            ["Node:PeerListen"] = $"http://127.0.0.1:{peerPort}",
            ["Node:AdminListen"] = "http://127.0.0.1:0",
            ["Auth:Secret"] = TestEnvironment.Secret,
            ["Auth:FleetSecret"] = TestEnvironment.FleetSecret,
            ["Storage:Redis:Endpoints"] = TestEnvironment.RedisEndpoints,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in all)
        {
            start.ArgumentList.Add($"--{key}={value}");
        }

        var process = Process.Start(start)!;
        var log = Path.Combine(TestEnvironment.BuildDirectory, "test-logs", $"{settings["Node:NodeId"]}.log");
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        _ = process.StandardOutput.BaseStream.CopyToAsync(File.Create(log));
        _ = process.StandardError.BaseStream.CopyToAsync(File.Create(log + ".err"));
        var node = new NodeProcess(process, settings["Node:NodeId"]!, new Uri($"http://127.0.0.1:{port}"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            await Poll.UntilAsync(async () =>
            {
                Assert.That(process.HasExited, Is.False, $"node process exited with {(process.HasExited ? process.ExitCode : 0)}; see {log}");
                try
                {
                    return (await http.GetAsync(new Uri(node.BaseUrl, "/readyz"))).StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, $"node process {node.NodeId} to be ready", TimeSpan.FromSeconds(30));
        }
        catch
        {
            // Nobody else holds it yet: a node that never became ready must not outlive the test.
            await node.DisposeAsync();
            throw;
        }

        return node;
    }

    /// <summary>SIGKILL: no deregistration, no close frames.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public sealed record RouteAnswer(string User, string NodeId, string Url, long Epoch);

public static class RouteClient
{
    public static async Task<RouteAnswer> RouteAsync(Uri node, string user)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return (await http.GetFromJsonAsync<RouteAnswer>(new Uri(node, $"/v1/route?user={Uri.EscapeDataString(user)}")))!;
    }
}
