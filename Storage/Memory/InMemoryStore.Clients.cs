namespace ChatNode.Storage.Memory;

public sealed partial class InMemoryStore
{
    // user -> client id -> registration time (ms); the user's entry expires with the metadata TTL, refreshed on connect.
    private readonly Dictionary<string, Expiring<Dictionary<string, long>>> _clients = new(StringComparer.Ordinal);

    // client -> when it was deactivated; kept for the lockout given at deactivation.
    private readonly Dictionary<ClientAddress, Expiring<System.Runtime.CompilerServices.StrongBox<DateTimeOffset>>> _deactivated = [];

    public Task<ClientRegistration> RegisterAsync(ClientAddress client, int maxClientsPerUser, DateTimeOffset tokenIssuedAt, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (Live(_deactivated, client) is { } deactivatedAt && tokenIssuedAt.ToUnixTimeMilliseconds() <= deactivatedAt.Value.ToUnixTimeMilliseconds())
            {
                return Task.FromResult(ClientRegistration.Deactivated);
            }

            if (Live(_clients, client.UserId) is not { } registered)
            {
                _clients[client.UserId] = new Expiring<Dictionary<string, long>>(registered = new Dictionary<string, long>(StringComparer.Ordinal), MetadataExpiry);
            }

            ClientRegistration result;
            if (registered.ContainsKey(client.ClientId))
            {
                result = ClientRegistration.Existing;
            }
            else if (registered.Count >= maxClientsPerUser)
            {
                return Task.FromResult(ClientRegistration.LimitReached);
            }
            else
            {
                registered[client.ClientId] = Now.ToUnixTimeMilliseconds();
                result = ClientRegistration.Registered;
            }

            _clients[client.UserId].ExpiresAt = MetadataExpiry;
            return Task.FromResult(result);
        }
    }

    public Task<bool> DeactivateAsync(ClientAddress client, TimeSpan lockout, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _inboxes.Remove(client);
            _acked.Remove(client);
            _deactivated[client] = new(new(Now), Now + lockout);
            return Task.FromResult(Live(_clients, client.UserId)?.Remove(client.ClientId) == true);
        }
    }

    public Task<IReadOnlyList<ClientRecord>> ListAsync(string userId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<ClientRecord>>(Live(_clients, userId) is { } registered
                ? [.. registered.Select(c => new ClientRecord(c.Key, c.Value)).OrderBy(c => c.RegisteredAtMs)]
                : []);
        }
    }
}
