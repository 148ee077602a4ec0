using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary>
/// Reads every master's memory and replicas each <see cref="RedisStoreOptions.ShardPollInterval"/> (<c>INFO memory</c>
/// and <c>INFO replication</c>) and reports them per shard, named by its master's endpoint (meter
/// <c>ChatNode.Storage</c>): used and maximum memory, replicas whose link is up, and failovers seen (a former replica
/// that became a master). A shard whose master has no replica left cannot acknowledge writes with
/// <see cref="RedisStoreOptions.ReplicaAcks"/> 1: its writes fail until a replica is back, which is what to alert on.
/// </summary>
internal sealed class RedisShardMonitor : BackgroundService
{
    private readonly IConnectionMultiplexer _connection;
    private readonly RedisStoreOptions _options;
    private readonly ILogger<RedisShardMonitor> _logger;
    private readonly TimeProvider _time;
    private readonly Counter<long> _failovers;
    private readonly HashSet<string> _replicasSeen = new(StringComparer.Ordinal);
    private volatile IReadOnlyList<ShardStatus> _shards = [];

    public RedisShardMonitor(IConnectionMultiplexer connection, IOptions<RedisStoreOptions> options, IMeterFactory meterFactory, ILogger<RedisShardMonitor> logger, TimeProvider time)
    {
        _connection = connection;
        _options = options.Value;
        _logger = logger;
        _time = time;
        var meter = meterFactory.Create(StorageMetrics.MeterName);
        meter.CreateObservableGauge("chat.store.shard.memory.used", () => Measure(s => s.UsedMemory), "By", "Memory used by each shard's master.");
        meter.CreateObservableGauge("chat.store.shard.memory.max", () => Measure(s => s.MaxMemory), "By", "Each shard master's maxmemory (0: unbounded).");
        meter.CreateObservableGauge("chat.store.shard.replicas", () => Measure(s => s.Replicas), "{replica}", "Replicas of each shard's master whose replication link is up.");
        _failovers = meter.CreateCounter<long>("chat.store.failovers", "{failover}", "Replicas seen to become masters (failovers), per new master.");
    }

    /// <summary>The shards as last read.</summary>
    public IReadOnlyList<ShardStatus> Shards => _shards;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.ShardPollInterval <= TimeSpan.Zero)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PollAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Metrics only: a failed read keeps the last values and never stops the node.
                StorageLog.ShardPollFailed(_logger, ex.Message);
            }

            try
            {
                await Task.Delay(_options.ShardPollInterval, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping (or the host failed to start and disposed the service): nothing to clean up.
                return;
            }
        }
    }

    /// <summary>Reads every connected master once.</summary>
    public async Task PollAsync()
    {
        var shards = new List<ShardStatus>();
        foreach (var server in _connection.GetServers())
        {
            if (!server.IsConnected)
            {
                continue;
            }

            var endpoint = server.EndPoint.ToString() ?? "?";
            var info = await server.InfoAsync().ConfigureAwait(false);
            var values = info.SelectMany(group => group).ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
            if (values.GetValueOrDefault("role") != "master")
            {
                _replicasSeen.Add(endpoint);
                continue;
            }

            if (_replicasSeen.Remove(endpoint))
            {
                _failovers.Add(1, new KeyValuePair<string, object?>("shard", endpoint));
                StorageLog.Failover(_logger, endpoint);
            }

            // slaveN: ip=...,port=...,state=online,offset=...,lag=...
            var replicas = values.Count(pair => pair.Key.StartsWith("slave", StringComparison.Ordinal) && char.IsAsciiDigit(pair.Key[^1])
                && pair.Value.Contains("state=online", StringComparison.Ordinal));
            shards.Add(new ShardStatus(endpoint, Number(values, "used_memory"), Number(values, "maxmemory"), replicas));
        }

        _shards = shards;
    }

    private static long Number(Dictionary<string, string> values, string key) =>
        long.TryParse(values.GetValueOrDefault(key), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;

    private IEnumerable<Measurement<long>> Measure(Func<ShardStatus, long> value) =>
        _shards.Select(s => new Measurement<long>(value(s), new KeyValuePair<string, object?>("shard", s.Endpoint)));
}

/// <summary>One shard as its master reported it: endpoint, memory used and its limit (0: none), replicas whose link is up.</summary>
public sealed record ShardStatus(string Endpoint, long UsedMemory, long MaxMemory, int Replicas);
