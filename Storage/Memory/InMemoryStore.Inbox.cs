namespace ChatNode.Storage.Memory;

public sealed partial class InMemoryStore
{
    // Like a Redis sorted set with a key TTL that slides with every add: member -> score, ordered by (score, member).
    private readonly Dictionary<ClientAddress, Expiring<Dictionary<string, long>>> _inboxes = [];

    // Acknowledged delivery ids per client, with their ack time; adds skip them for the tombstone window.
    private readonly Dictionary<ClientAddress, Dictionary<string, DateTimeOffset>> _acked = [];

    public Task<IReadOnlyList<ClientAddress>> AddToUsersAsync(IReadOnlyCollection<string> userIds, ClientAddress except, InboxEntry entry, int maxEntries, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var clients = new List<ClientAddress>();
            foreach (var user in userIds)
            {
                if (Live(_clients, user) is { } registered)
                {
                    clients.AddRange(registered.Keys.Select(c => new ClientAddress(user, c)).Where(c => c != except));
                }
            }

            return AddAsync(clients, entry, maxEntries, cancellationToken);
        }
    }

    public Task<IReadOnlyList<ClientAddress>> AddAsync(IReadOnlyCollection<ClientAddress> clients, InboxEntry entry, int maxEntries, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            List<ClientAddress>? full = null;
            foreach (var client in clients)
            {
                if (_acked.TryGetValue(client, out var acked) && acked.TryGetValue(entry.DeliveryId, out var at) && at > Now - _options.AckTombstoneTtl)
                {
                    continue;
                }

                if (Live(_inboxes, client) is not { } inbox)
                {
                    _inboxes[client] = new Expiring<Dictionary<string, long>>(inbox = new Dictionary<string, long>(StringComparer.Ordinal), MessageExpiry);
                }

                if (!inbox.ContainsKey(entry.DeliveryId) && inbox.Count >= maxEntries)
                {
                    (full ??= []).Add(client);
                    continue;
                }

                inbox[entry.DeliveryId] = entry.Score;
                _inboxes[client].ExpiresAt = MessageExpiry;
            }

            return Task.FromResult<IReadOnlyList<ClientAddress>>((IReadOnlyList<ClientAddress>?)full ?? []);
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
            var removed = inbox is null ? 0 : deliveryIds.Distinct(StringComparer.Ordinal).Count(inbox.Remove);
            if (!_acked.TryGetValue(client, out var acked))
            {
                _acked[client] = acked = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
            }

            foreach (var id in deliveryIds)
            {
                acked[id] = Now;
            }

            var oldest = Now - _options.AckTombstoneTtl;
            foreach (var stale in acked.Where(a => a.Value < oldest).Select(a => a.Key).ToArray())
            {
                acked.Remove(stale);
            }

            foreach (var extra in acked.OrderBy(a => a.Value).Take(Math.Max(0, acked.Count - _options.MaxAckTombstones)).Select(a => a.Key).ToArray())
            {
                acked.Remove(extra);
            }

            return Task.FromResult(removed);
        }
    }
}
