using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

public static class RedisStorageExtensions
{
    /// <summary>
    /// Registers the Redis Cluster store behind <see cref="IChatStore"/>, <see cref="IMessageStore"/>,
    /// <see cref="IInboxStore"/> and <see cref="IClientStore"/>. The connection is opened on first use of a store.
    /// </summary>
    public static IServiceCollection AddRedisStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RedisStoreOptions>().Bind(configuration.GetSection(RedisStoreOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisStoreOptions>, RedisStoreOptionsValidator>());
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<StorageMetrics>();
        services.TryAddSingleton<IConnectionMultiplexer>(sp => Connect(sp.GetRequiredService<IOptions<RedisStoreOptions>>().Value, sp.GetRequiredService<ILogger<RedisRetry>>()));
        services.TryAddSingleton<RedisRetry>();
        services.TryAddSingleton<ReplicaAcknowledger>();
        services.TryAddSingleton<IChatStore, RedisChatStore>();
        services.TryAddSingleton<IMessageStore, RedisMessageStore>();
        services.TryAddSingleton<IInboxStore, RedisInboxStore>();
        services.TryAddSingleton<IClientStore, RedisClientStore>();
        services.TryAddSingleton<IStoreHealth, RedisStoreHealth>();
        services.TryAddSingleton<IAttachmentStore, RedisAttachmentStore>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RedisShardMonitor>());
        return services;
    }

    private static ConnectionMultiplexer Connect(RedisStoreOptions options, ILogger logger)
    {
        var config = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            ConnectRetry = 3,
            ConnectTimeout = (int)options.CommandTimeout.TotalMilliseconds,
            SyncTimeout = (int)options.CommandTimeout.TotalMilliseconds,
            AsyncTimeout = (int)options.CommandTimeout.TotalMilliseconds,
            ClientName = "chatnode",
            // INFO (the shard metrics) is an admin command to this client; the node issues no other.
            AllowAdmin = true,
            // A command for a master that is down fails at once (and is retried by RedisRetry, which follows the
            // failover) instead of waiting in the client's backlog for that master to come back, up to the timeout.
            BacklogPolicy = BacklogPolicy.FailFast,
            // Detect a dead master quickly so a failover is followed within a few seconds.
            KeepAlive = 5,
            ReconnectRetryPolicy = new ExponentialRetry(100, 2000),
        };
        foreach (var endpoint in options.Endpoints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            config.EndPoints.Add(endpoint);
        }

        var connection = ConnectionMultiplexer.Connect(config);
        connection.ConnectionFailed += (_, e) => StorageLog.ConnectionFailed(logger, e.EndPoint?.ToString() ?? "?", e.FailureType.ToString());
        StorageLog.Connected(logger, options.Endpoints);
        return connection;
    }
}
