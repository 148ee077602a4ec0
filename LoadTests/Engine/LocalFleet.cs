using System.Diagnostics;
using System.Globalization;
using System.Net.Http;

namespace ChatNode.LoadTests.Engine;

/// <summary>
/// A fleet on this machine for <c>--local</c>: starts the services with scripts/services.sh (stopping again only
/// those it started), then N node processes (<see cref="NodeDll"/>) on 127.0.0.1:8090.. with their own etcd prefix and
/// a fresh secret; stops them by PID at the end.
/// </summary>
public sealed class LocalFleet : IAsyncDisposable
{
    private readonly List<Process> _nodes = [];
    private readonly List<string> _startedServices = [];
    private readonly string _root;

    private LocalFleet(string root) => _root = root;

    public Uri Url { get; } = new("ws://127.0.0.1:8090/ws");

    public string Secret { get; } = "load-" + Guid.NewGuid().ToString("N");

    public IReadOnlyList<int> Pids => [.. _nodes.Select(n => n.Id), .. RedisPids()];

    public static async Task<LocalFleet> StartAsync(int nodes, Action<string> log)
    {
        var fleet = new LocalFleet(FindRoot());
        try
        {
            foreach (var service in new[] { "redis", "etcd" })
            {
                if (fleet.Services("is-running", service) != 0)
                {
                    if (fleet.Services("start", service) != 0)
                    {
                        throw new InvalidOperationException($"scripts/services.sh start {service} failed");
                    }

                    fleet._startedServices.Add(service);
                }
            }

            var prefix = $"/chatnode-load/{Guid.NewGuid():N}/";
            for (var i = 0; i < nodes; i++)
            {
                var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                start.ArgumentList.Add(fleet.NodeDll());
                foreach (var argument in new[]
                {
                    "serve",
                    $"--Node:NodeId=load-{i}",
                    $"--Node:Listen=http://127.0.0.1:{8090 + i}",
                    $"--Node:PeerListen=http://127.0.0.1:{9090 + i}",
                    $"--Registry:Endpoints={(nodes > 1 ? "http://127.0.0.1:2479" : "")}",
                    $"--Registry:Prefix={prefix}",
                    $"--Auth:Secret={fleet.Secret}",
                    "--Logging:LogLevel:Default=Warning",
                })
                {
                    start.ArgumentList.Add(argument);
                }

                var process = Process.Start(start)!;
                _ = process.StandardOutput.ReadToEndAsync();
                _ = process.StandardError.ReadToEndAsync();
                fleet._nodes.Add(process);
            }

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
            for (var i = 0; i < nodes; i++)
            {
                var ready = false;
                for (var attempt = 0; attempt < 300 && !ready; attempt++)
                {
                    try
                    {
                        ready = (await http.GetAsync(new Uri($"http://127.0.0.1:{8090 + i}/readyz"))).IsSuccessStatusCode;
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                    }

                    if (!ready)
                    {
                        await Task.Delay(100);
                    }
                }

                if (!ready)
                {
                    throw new InvalidOperationException($"local node {i} did not become ready");
                }
            }

            log($"local fleet: {nodes} node(s) on 127.0.0.1:8090-{8089 + nodes}");
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes.Where(n => !n.HasExited))
        {
            using var kill = Process.Start("kill", ["-TERM", node.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        }

        foreach (var node in _nodes)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await node.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                node.Kill();
            }

            node.Dispose();
        }

        foreach (var service in _startedServices)
        {
            Services("stop", service);
        }
    }

    private int Services(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(_root, "scripts", "services.sh"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode;
    }

    /// <summary>
    /// The node to run: a ChatNode.dll beside this assembly (the test project has one), else the one the build put in
    /// ChatNode/bin/&lt;configuration&gt;/ (the project file makes the node build before this tool).
    /// </summary>
    private string NodeDll()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "ChatNode.dll");
        if (File.Exists(beside))
        {
            return beside;
        }

        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent?.Name ?? "Release";
        var built = Path.Combine(_root, "ChatNode", "bin", configuration, "net10.0", "ChatNode.dll");
        return File.Exists(built) ? built : throw new InvalidOperationException($"no node at {built}: run `dotnet build ChatNode -c {configuration}`");
    }

    private IEnumerable<int> RedisPids() =>
        Directory.Exists(Path.Combine(_root, "build", "redis"))
            ? Directory.GetFiles(Path.Combine(_root, "build", "redis"), "redis.pid", SearchOption.AllDirectories)
                .Select(f => int.TryParse(File.ReadAllText(f).Trim(), CultureInfo.InvariantCulture, out var pid) ? pid : 0).Where(p => p > 0)
            : [];

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "chatnode.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("--local needs to run inside the chatnode repository (scripts/services.sh)");
    }
}
