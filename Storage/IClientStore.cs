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
    /// <summary>The client was deactivated after the token it connects with was issued; nothing was written.</summary>
    Deactivated,
}

/// <summary>
/// The registered clients (devices) of each user. Every message for a user is written to the inbox of each of
/// its registered clients. Registration and deactivation are atomic per user. Thread-safe.
/// </summary>
public interface IClientStore
{
    /// <summary>
    /// Registers the client unless the user has <paramref name="maxClientsPerUser"/> others, or the client was
    /// deactivated at or after <paramref name="tokenIssuedAt"/> (a token from before its deactivation cannot bring it back).
    /// </summary>
    Task<ClientRegistration> RegisterAsync(ClientAddress client, int maxClientsPerUser, DateTimeOffset tokenIssuedAt, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the client and deletes its inbox, and remembers the deactivation for <paramref name="lockout"/> (the
    /// longest a token lives) so that tokens issued before it are refused. False if it was not registered.
    /// </summary>
    Task<bool> DeactivateAsync(ClientAddress client, TimeSpan lockout, CancellationToken cancellationToken);

    Task<IReadOnlyList<ClientRecord>> ListAsync(string userId, CancellationToken cancellationToken);
}
