using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using ChatNode.Auth;

namespace ChatNode.LoadTests.Engine;

/// <summary>
/// A fleet on this machine for <c>--local</c> and the soak: starts the services with scripts/services.sh (stopping again
/// only those it started), then node processes (<see cref="NodeDll"/>) <c>load-i</c> on 127.0.0.1:8090+i (peer
/// 9090+i) with an etcd prefix of their own and a fresh secret. It can add, drain, stop, kill and restart nodes and
/// break the services, for fault injection; everything it started is stopped by PID at the end. Node logs go to
/// build/local-fleet/. Not thread-safe: one caller drives it.
/// </summary>
public sealed class LocalFleet : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    private readonly Dictionary<int, Process> _nodes = [];
    private readonly List<string> _startedServices = [];
    private readonly string _root;
    private readonly string _prefix = $"/chatnode-load/{Guid.NewGuid():N}/";
    private readonly bool _fleet;
    private readonly IReadOnlyList<string> _settings;
    private readonly Action<string> _log;
    private readonly string _logs;

    private LocalFleet(string root, bool fleet, IReadOnlyList<string> settings, Action<string> log)
    {
        _root = root;
        _fleet = fleet;
        _settings = settings;
        _log = log;
        _logs = Path.Combine(root, "build", "local-fleet");
        Directory.CreateDirectory(_logs);
    }

    public Uri Url => Seeds[0];

    /// <summary>The WebSocket URLs of the nodes running now, lowest index first.</summary>
    public IReadOnlyList<Uri> Seeds => [.. _nodes.Keys.Order().Select(WsUrl)];

    public string Secret { get; } = "load-" + Guid.NewGuid().ToString("N");

    /// <summary>The fleet secret of the nodes (peer streams, drain requests).</summary>
    public string FleetSecret { get; } = "fleet-" + Guid.NewGuid().ToString("N");

    public IReadOnlyList<int> Pids => [.. _nodes.Values.Where(n => !n.HasExited).Select(n => n.Id), .. RedisPids()];

    /// <summary>The indexes of the nodes running now.</summary>
    public IReadOnlyList<int> Running => [.. _nodes.Where(n => !n.Value.HasExited).Select(n => n.Key).Order()];

    public static string NodeId(int index) => $"load-{index}";

    public static Uri WsUrl(int index) => new($"ws://127.0.0.1:{8090 + index}/ws");

    /// <summary>
    /// Starts <paramref name="nodes"/> nodes (and etcd and Redis if they are not running) and waits until they are ready;
    /// <paramref name="settings"/> (<c>Section:Key=Value</c>) go to every node.
    /// </summary>
    public static async Task<LocalFleet> StartAsync(int nodes, IReadOnlyList<string> settings, Action<string> log)
    {
        var fleet = new LocalFleet(FindRoot(), nodes > 1, settings, log);
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

            for (var i = 0; i < nodes; i++)
            {
                fleet.Launch(i);
            }

            for (var i = 0; i < nodes; i++)
            {
                await fleet.WaitReadyAsync(i);
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

    /// <summary>Starts a node with the next free index (a join) and waits until it is ready; returns its index.</summary>
    public async Task<int> JoinAsync()
    {
        var index = Enumerable.Range(0, 100).First(i => !_nodes.TryGetValue(i, out var node) || node.HasExited);
        Launch(index);
        await WaitReadyAsync(index);
        return index;
    }

    /// <summary>Starts node <paramref name="index"/> again (same id, so the same ring segments) and waits until it is ready.</summary>
    public async Task RestartAsync(int index)
    {
        Launch(index);
        await WaitReadyAsync(index);
    }

    /// <summary>Asks node <paramref name="index"/> to drain (as <c>chatnode drain</c> does) and waits until it exited.</summary>
    public async Task DrainAsync(int index, int rate, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var request = AdminSignature.DrainRequest(new Uri($"http://127.0.0.1:{9090 + index}"), FleetSecret, NodeId(index), rate, DateTimeOffset.UtcNow);
        using var response = await http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"drain of {NodeId(index)} refused: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        await WaitExitAsync(index, timeout);
    }

    /// <summary>SIGTERM to node <paramref name="index"/> (it drains, then exits); waits until it exited.</summary>
    public async Task StopAsync(int index, TimeSpan timeout)
    {
        Signal(index, "TERM");
        await WaitExitAsync(index, timeout);
    }

    /// <summary>SIGKILL to node <paramref name="index"/>: no drain, no deregistration.</summary>
    public void Kill(int index)
    {
        if (_nodes.TryGetValue(index, out var node) && !node.HasExited)
        {
            node.Kill();
            node.WaitForExit(10_000);
        }
    }

    /// <summary>
    /// SIGKILLs the first Redis master (by port), waits until its replica took over, then
    /// restarts it (it rejoins as a replica) and waits until every master has a linked replica again.
    /// Returns the port of the killed master.
    /// </summary>
    public async Task<int> KillRedisMasterAsync(TimeSpan timeout)
    {
        var ports = Directory.GetDirectories(Path.Combine(BuildDirectory, "redis")).Select(d => int.TryParse(Path.GetFileName(d), CultureInfo.InvariantCulture, out var p) ? p : 0).Where(p => p > 0).Order().ToArray();
        var master = ports.First(p => RedisCli(p, "info", "replication").Contains("role:master", StringComparison.Ordinal));
        var pid = int.Parse(File.ReadAllText(Path.Combine(BuildDirectory, "redis", master.ToString(CultureInfo.InvariantCulture), "redis.pid")).Trim(), CultureInfo.InvariantCulture);
        using (var process = Process.GetProcessById(pid))
        {
            process.Kill();
        }

        var other = ports.First(p => p != master);
        var deadline = DateTime.UtcNow + timeout;
        while (!RedisCli(other, "cluster", "nodes").Split('\n').Any(line => line.Contains($":{master}@", StringComparison.Ordinal) && line.Contains("fail", StringComparison.Ordinal))
               || RedisCli(other, "cluster", "info").Contains("cluster_state:fail", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no failover of the Redis master on {master}");
            }

            await Task.Delay(200);
        }

        // Restart only after the replica took over, so the old master comes back as a replica and loses nothing.
        using (var restart = Process.Start(new ProcessStartInfo("redis-server", Path.Combine(BuildDirectory, "redis", master.ToString(CultureInfo.InvariantCulture), "redis.conf")) { UseShellExecute = false })!)
        {
            await restart.WaitForExitAsync();
        }

        while (Services("is-healthy", "redis") != 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the Redis cluster did not heal after the master came back");
            }

            await Task.Delay(200);
        }

        return master;
    }

    /// <summary>Stops etcd for <paramref name="outage"/>, then starts it again with its data.</summary>
    public async Task EtcdOutageAsync(TimeSpan outage)
    {
        if (Services("stop", "etcd") != 0)
        {
            throw new InvalidOperationException("scripts/services.sh stop etcd failed");
        }

        await Task.Delay(outage);
        if (Services("resume", "etcd") != 0)
        {
            throw new InvalidOperationException("scripts/services.sh resume etcd failed");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var index in _nodes.Keys.ToArray())
        {
            Signal(index, "TERM");
        }

        foreach (var (index, node) in _nodes)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await node.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                _log($"local fleet: {NodeId(index)} ignored SIGTERM, killing it");
                node.Kill();
            }

            node.Dispose();
        }

        foreach (var service in _startedServices)
        {
            Services("stop", service);
        }
    }

    private void Launch(int index)
    {
        if (_nodes.TryGetValue(index, out var old))
        {
            if (!old.HasExited)
            {
                throw new InvalidOperationException($"{NodeId(index)} is running");
            }

            old.Dispose();
        }

        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(NodeDll());
        string[] arguments =
        [
            "serve",
            $"--Node:NodeId={NodeId(index)}",
            $"--Node:Listen=http://127.0.0.1:{8090 + index}",
            $"--Node:PeerListen=http://127.0.0.1:{9090 + index}",
            $"--Node:AdminListen=http://127.0.0.1:{9190 + index}",
            $"--Registry:Endpoints={(_fleet ? Environment.GetEnvironmentVariable("CHATNODE_ETCD") ?? "http://127.0.0.1:2479" : "")}",
            $"--Registry:Prefix={_prefix}",
            $"--Auth:Secret={Secret}",
            $"--Auth:FleetSecret={FleetSecret}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:ChatNode.Fleet=Information",
            // A load user sends faster than any person: the per-user quota would cap the load, not the node.
            "--Node:UserMessagesPerMinute=1000000",
            "--Node:UserMessagesPerDay=100000000",
            .. _settings.Select(setting => "--" + setting),
        ];
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        var log = new StreamWriter(Path.Combine(_logs, $"{NodeId(index)}.log"), append: true) { AutoFlush = true };
        _ = CopyAsync(process.StandardOutput, log);
        _ = CopyAsync(process.StandardError, log);
        _nodes[index] = process;
    }

    private static async Task CopyAsync(StreamReader from, StreamWriter to)
    {
        string? line;
        while ((line = await from.ReadLineAsync()) is not null)
        {
            lock (to)
            {
                to.WriteLine(line);
            }
        }
    }

    private async Task WaitReadyAsync(int index)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_nodes[index].HasExited)
            {
                throw new InvalidOperationException($"{NodeId(index)} exited with {_nodes[index].ExitCode}; see {_logs}");
            }

            try
            {
                if ((await http.GetAsync(new Uri($"http://127.0.0.1:{8090 + index}/readyz"))).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"{NodeId(index)} did not become ready; see {_logs}");
    }

    private async Task WaitExitAsync(int index, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _nodes[index].WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{NodeId(index)} did not exit within {timeout.TotalSeconds:0} s");
        }
    }

    private void Signal(int index, string signal)
    {
        if (_nodes.TryGetValue(index, out var node) && !node.HasExited)
        {
            using var kill = Process.Start("kill", [$"-{signal}", node.Id.ToString(CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
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

    private static string RedisCli(int port, params string[] arguments)
    {
        var start = new ProcessStartInfo("redis-cli") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-p");
        start.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
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
        Directory.Exists(Path.Combine(BuildDirectory, "redis"))
            ? Directory.GetFiles(Path.Combine(BuildDirectory, "redis"), "redis.pid", SearchOption.AllDirectories)
                .Select(f => int.TryParse(File.ReadAllText(f).Trim(), CultureInfo.InvariantCulture, out var pid) ? pid : 0).Where(p => p > 0)
            : [];

    // Where scripts/services.sh keeps the services' data and pid files.
    private string BuildDirectory => Environment.GetEnvironmentVariable("CHATNODE_BUILD") is { Length: > 0 } build ? build : Path.Combine(_root, "build");

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
