namespace ChatNode.Storage;

/// <summary>The outcome of registering a client.</summary>
public enum ClientRegistration
{
    /// <summary>The client was new and is now registered.</summary>
    Registered,
    /// <summary>The client was already registered.</summary>
    Existing,
    /// <summary>The user already has the maximum number of clients; nothing was written.</summary>
    LimitReached,
}

/// <summary>
/// The registered clients (devices) of each user. Every message for a user is written to the inbox of each of
/// its registered clients. Registration and deactivation are atomic per user. Thread-safe.
/// </summary>
public interface IClientStore
{
    Task<ClientRegistration> RegisterAsync(ClientAddress client, int maxClientsPerUser, CancellationToken cancellationToken);

    /// <summary>Removes the client and deletes its inbox; false if it was not registered.</summary>
    Task<bool> DeactivateAsync(ClientAddress client, CancellationToken cancellationToken);

    Task<IReadOnlyList<ClientRecord>> ListAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Every registered client of each user given, as one flat list.</summary>
    Task<IReadOnlyList<ClientAddress>> ListClientsOfAsync(IReadOnlyCollection<string> userIds, CancellationToken cancellationToken);
}
