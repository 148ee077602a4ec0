using System.Diagnostics;
using StackExchange.Redis;

namespace ChatNode.UnitTests.Infrastructure;

/// <summary>Fault injection on the real Redis Cluster that scripts/services.sh started (one conf file per node).</summary>
public static class RedisCluster
{
    /// <summary>An admin connection to the test cluster (INFO and CLUSTER need admin mode).</summary>
    public static Task<ConnectionMultiplexer> ConnectAdminAsync()
    {
        var options = new ConfigurationOptions { AllowAdmin = true, AbortOnConnectFail = false, ConnectTimeout = 2000, KeepAlive = 2 };
        foreach (var endpoint in TestEnvironment.RedisEndpoints.Split(','))
        {
            options.EndPoints.Add(endpoint);
        }

        return ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>The process id of the Redis server behind <paramref name="server"/>.</summary>
    public static async Task<int> ProcessIdAsync(IServer server)
    {
        var info = await server.InfoAsync("server");
        return int.Parse(info.SelectMany(g => g).Single(kv => kv.Key == "process_id").Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The master that owns <paramref name="key"/>'s slot and its replicas, from the cluster's own view.</summary>
    public static async Task<(IServer Master, IServer[] Replicas)> ShardOfAsync(IConnectionMultiplexer connection, RedisKey key)
    {
        var any = connection.GetServers().First(s => s.IsConnected);
        var cluster = await any.ClusterNodesAsync() ?? throw new InvalidOperationException("CLUSTER NODES returned nothing");
        var master = cluster.GetBySlot(key) ?? throw new InvalidOperationException($"no master serves the slot of {key}");
        var replicas = cluster.Nodes.Where(n => n.IsReplica && n.ParentNodeId == master.NodeId).Select(n => connection.GetServer(n.EndPoint!)).ToArray();
        return (connection.GetServer(master.EndPoint!), replicas);
    }

    /// <summary>Every master of the cluster, from its own view.</summary>
    public static async Task<IServer[]> MastersAsync(IConnectionMultiplexer connection)
    {
        var any = connection.GetServers().First(s => s.IsConnected);
        var cluster = await any.ClusterNodesAsync() ?? throw new InvalidOperationException("CLUSTER NODES returned nothing");
        return [.. cluster.Nodes.Where(n => !n.IsReplica && n.Slots.Count > 0 && !n.IsNoAddr).Select(n => connection.GetServer(n.EndPoint!))];
    }

    /// <summary>Stops (SIGSTOP) or resumes (SIGCONT) a Redis process: a replica that hangs without closing its connections.</summary>
    public static void Signal(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit(5_000);
        Assert.That(kill.ExitCode, Is.Zero, $"kill -{signal} {pid}");
    }

    /// <summary>Whether the server now says it is a master.</summary>
    public static async Task<bool> IsMasterAsync(IServer server)
    {
        try
        {
            var replication = (await server.InfoAsync("replication")).SelectMany(g => g);
            return replication.Any(kv => kv.Key == "role" && kv.Value == "master");
        }
        catch (RedisException)
        {
            return false;
        }
    }

    public static string ConfPath(IServer server) =>
        Path.Combine(TestEnvironment.BuildDirectory, "redis", ((System.Net.IPEndPoint)server.EndPoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "redis.conf");

    /// <summary>Restarts a killed node with its own configuration; it rejoins the cluster (as a replica after a failover).</summary>
    public static void Restart(string confPath)
    {
        Assert.That(File.Exists(confPath), Is.True, $"no Redis configuration at {confPath}: start the services with scripts/services.sh");
        using var process = Process.Start(new ProcessStartInfo("redis-server", confPath) { UseShellExecute = false })!;
        process.WaitForExit(10_000);
    }

    /// <summary>Replicas per master in the test cluster (three masters, as scripts/services.sh starts it).</summary>
    public static int ReplicasPerMaster => TestEnvironment.RedisEndpoints.Split(',').Length / 3 - 1;

    /// <summary>Waits until every master has all its replicas linked again, so later tests start from a healthy cluster.</summary>
    public static async Task WaitHealthyAsync(TimeSpan timeout)
    {
        var endpoints = TestEnvironment.RedisEndpoints.Split(',');
        await Poll.UntilAsync(async () =>
        {
            var healthy = 0;
            foreach (var endpoint in endpoints)
            {
                try
                {
                    await using var connection = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { endpoint }, ConnectTimeout = 1000, AbortOnConnectFail = true, AllowAdmin = true });
                    var server = connection.GetServer(endpoint);
                    var replication = (await server.InfoAsync("replication")).SelectMany(g => g).ToDictionary(kv => kv.Key, kv => kv.Value);
                    var cluster = (string?)await server.ExecuteAsync("CLUSTER", "INFO") ?? "";
                    var ok = cluster.Contains("cluster_state:ok", StringComparison.Ordinal) && replication["role"] switch
                    {
                        "master" => replication.GetValueOrDefault("connected_slaves") == ReplicasPerMaster.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        _ => replication.GetValueOrDefault("master_link_status") == "up",
                    };
                    healthy += ok ? 1 : 0;
                }
                catch (RedisException)
                {
                    // Not reachable yet, or still loading its data (LOADING): not healthy yet.
                }
            }

            return healthy == endpoints.Length;
        }, "every Redis node back, each master with a linked replica", timeout);
    }
}
