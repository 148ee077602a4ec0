using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary><see cref="IClientStore"/> on Redis Cluster: one hash per user, client id to registration time (ms).</summary>
internal sealed class RedisClientStore : IClientStore
{
    private readonly IConnectionMultiplexer _connection;
    private readonly RedisRetry _retry;
    private readonly ReplicaAcknowledger _replicas;
    private readonly RedisStoreOptions _options;
    private readonly TimeProvider _time;

    public RedisClientStore(IConnectionMultiplexer connection, RedisRetry retry, ReplicaAcknowledger replicas, IOptions<RedisStoreOptions> options, TimeProvider time)
    {
        _connection = connection;
        _retry = retry;
        _replicas = replicas;
        _options = options.Value;
        _time = time;
    }

    private IDatabase Db => _connection.GetDatabase();

    public Task<ClientRegistration> RegisterAsync(ClientAddress client, int maxClientsPerUser, DateTimeOffset tokenIssuedAt, CancellationToken cancellationToken) =>
        _retry.RunAsync("client.register", async () =>
        {
            var key = RedisKeys.UserClients(client.UserId);
            var reply = (string?)await Db.ScriptEvaluateAsync(
                RedisScripts.RegisterClient,
                [key, RedisKeys.Deactivated(client)],
                [client.ClientId, maxClientsPerUser, _time.GetUtcNow().ToUnixTimeMilliseconds(), RedisChatStore.Seconds(_options.MetadataTtl), tokenIssuedAt.ToUnixTimeMilliseconds()])
                .ConfigureAwait(false);
            var result = reply switch
            {
                "registered" => ClientRegistration.Registered,
                "existing" => ClientRegistration.Existing,
                "limit" => ClientRegistration.LimitReached,
                "deactivated" => ClientRegistration.Deactivated,
                _ => throw new InvalidOperationException($"Unexpected script reply '{reply}'."),
            };
            if (result == ClientRegistration.Registered)
            {
                await _replicas.EnsureAsync(key).ConfigureAwait(false);
            }

            return result;
        }, cancellationToken);

    public Task<bool> DeactivateAsync(ClientAddress client, TimeSpan lockout, CancellationToken cancellationToken) =>
        _retry.RunAsync("client.deactivate", async () =>
        {
            var key = RedisKeys.UserClients(client.UserId);
            var removed = (long)await Db.ScriptEvaluateAsync(
                RedisScripts.DeactivateClient,
                [key, RedisKeys.Inbox(client), RedisKeys.Acked(client), RedisKeys.Deactivated(client)],
                [client.ClientId, _time.GetUtcNow().ToUnixTimeMilliseconds(), Math.Max(1, (long)lockout.TotalMilliseconds)]).ConfigureAwait(false);
            await _replicas.EnsureAsync(key).ConfigureAwait(false);
            return removed == 1;
        }, cancellationToken);

    public Task<IReadOnlyList<ClientRecord>> ListAsync(string userId, CancellationToken cancellationToken) =>
        _retry.RunAsync("client.list", async () =>
        {
            var entries = await Db.HashGetAllAsync(RedisKeys.UserClients(userId)).ConfigureAwait(false);
            return (IReadOnlyList<ClientRecord>)entries
                .Select(e => new ClientRecord((string)e.Name!, (long)e.Value))
                .OrderBy(c => c.RegisteredAtMs)
                .ToArray();
        }, cancellationToken);
}
