using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

internal sealed class RedisStoreHealth(IConnectionMultiplexer connection) : IStoreHealth
{
    public async Task<(bool Ready, string Reason)> CheckAsync(CancellationToken cancellationToken)
    {
        var masters = connection.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToArray();
        if (masters.Length == 0)
        {
            return (false, "no Redis master connected");
        }

        try
        {
            await Task.WhenAll(masters.Select(m => m.PingAsync())).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            return (true, $"{masters.Length} masters answer");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return (false, "Redis did not answer: " + ex.Message);
        }
    }
}
