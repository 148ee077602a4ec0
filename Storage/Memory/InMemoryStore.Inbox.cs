namespace ChatNode.Storage.Memory;

public sealed partial class InMemoryStore
{
    // Like a Redis sorted set with a key TTL that slides with every add: member -> score, ordered by (score, member).
    private readonly Dictionary<ClientAddress, Expiring<Dictionary<string, long>>> _inboxes = [];

    public Task AddAsync(IReadOnlyCollection<ClientAddress> clients, InboxEntry entry, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var client in clients)
            {
                if (Live(_inboxes, client) is not { } inbox)
                {
                    _inboxes[client] = new Expiring<Dictionary<string, long>>(inbox = new Dictionary<string, long>(StringComparer.Ordinal), MessageExpiry);
                }

                inbox[entry.DeliveryId] = entry.Score;
                _inboxes[client].ExpiresAt = MessageExpiry;
            }

            return Task.CompletedTask;
        }
    }

    public Task<IReadOnlyList<InboxEntry>> ReadAsync(ClientAddress client, long fromScore, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (Live(_inboxes, client) is not { } inbox)
            {
                return Task.FromResult<IReadOnlyList<InboxEntry>>([]);
            }

            // Entries older than the TTL are dropped as a side effect, as the Redis store trims them on read.
            var expiredBefore = ToUs(Now - _options.MessageTtl);
            foreach (var stale in inbox.Where(e => e.Value < expiredBefore).Select(e => e.Key).ToArray())
            {
                inbox.Remove(stale);
            }

            var from = Math.Max(fromScore, expiredBefore);
            return Task.FromResult<IReadOnlyList<InboxEntry>>([.. inbox
                .Where(e => e.Value >= from)
                .OrderBy(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal)
                .Take(limit)
                .Select(e => new InboxEntry(e.Key, e.Value))]);
        }
    }

    public Task<int> RemoveAsync(ClientAddress client, IReadOnlyList<string> deliveryIds, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var inbox = Live(_inboxes, client);
            return Task.FromResult(inbox is null ? 0 : deliveryIds.Distinct(StringComparer.Ordinal).Count(inbox.Remove));
        }
    }
}
