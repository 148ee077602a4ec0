using ChatNode.Auth;
using ChatNode.Connections;
using ChatNode.Diagnostics;
using ChatNode.Fleet;
using ChatNode.Protocol;
using ChatNode.Registry.Ring;
using ChatNode.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Delivery;

/// <summary>
/// The delivery pipeline: durable fan-out into recipient inboxes, then live pushes to connected clients, and
/// loading stored inbox entries back into push frames (replay, redelivery). The inbox is the source of truth;
/// a live push is best effort. Thread-safe.
/// </summary>
public sealed class DeliveryService
{
    private readonly IClientStore _clients;
    private readonly IInboxStore _inbox;
    private readonly IMessageStore _messages;
    private readonly IChatStore _chats;
    private readonly ConnectionRegistry _registry;
    private readonly DeliveryMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Ownership _ownership;
    private readonly IRemoteDelivery _remote;
    private readonly DeliveryOptions _options;
    private readonly TimeSpan _lockout;
    private readonly ILogger<DeliveryService> _logger;

    public DeliveryService(
        IClientStore clients,
        IInboxStore inbox,
        IMessageStore messages,
        IChatStore chats,
        ConnectionRegistry registry,
        DeliveryMetrics metrics,
        TimeProvider time,
        Ownership ownership,
        IRemoteDelivery remote,
        IOptions<DeliveryOptions> options,
        IOptions<AuthOptions> auth,
        ILogger<DeliveryService> logger)
    {
        _options = options.Value;
        _lockout = auth.Value.MaxTokenLifetime;
        _logger = logger;
        _ownership = ownership;
        _remote = remote;
        _clients = clients;
        _inbox = inbox;
        _messages = messages;
        _chats = chats;
        _registry = registry;
        _metrics = metrics;
        _time = time;
    }

    /// <summary>
    /// Writes the entry into the inbox of every registered client of <paramref name="users"/>, except
    /// <paramref name="sender"/> (whose own request result carries the item). Durable when it completes. A client whose
    /// inbox is full (<see cref="DeliveryOptions.MaxInboxEntries"/>) is deactivated instead: it is no longer registered.
    /// </summary>
    public async Task FanOutAsync(IReadOnlyCollection<string> users, ClientAddress sender, InboxEntry entry, CancellationToken cancellationToken)
    {
        using var span = Telemetry.Source.StartActivity("store.fanout");
        span?.SetTag("delivery.users", users.Count);
        var full = await _inbox.AddToUsersAsync(users, sender, entry, _options.MaxInboxEntries, cancellationToken).ConfigureAwait(false);
        foreach (var client in full)
        {
            await _clients.DeactivateAsync(client, _lockout, cancellationToken).ConfigureAwait(false);
            _registry.Find(client)?.Close(CloseCode.ClientDeactivated, "inbox full: client deactivated");
            _metrics.InboxOverflowed();
            DeliveryLog.InboxOverflowed(_logger, client.ToString(), _options.MaxInboxEntries);
        }
    }

    /// <summary>
    /// Pushes to every connected client of <paramref name="users"/>, except the sender's, wherever the client is: on this
    /// node for the users it owns, through a peer stream to the owner for the others. While a user moves between nodes
    /// (its current and target owners differ) the push goes to both (dual write), so that no client waits for the resync
    /// sweep because of a transition; clients drop the second copy by message id. Best effort: the inbox already holds
    /// the item.
    /// </summary>
    public void Push(IReadOnlyCollection<string> users, ClientAddress sender, OutboundFrame push, long storedAtUs)
    {
        var view = _ownership.View;
        List<string>? local = null;
        Dictionary<string, (NodeInfo Owner, List<string> Users)>? remote = null;
        foreach (var user in users)
        {
            var (current, target) = view.PushOwners(user);
            if (current is null)
            {
                // No ring yet: this node serves everyone.
                (local ??= []).Add(user);
                continue;
            }

            // One owner outside a transition; both while the user moves (dual write).
            var here = Route(current, user, view.SelfId, ref remote) | (target is not null && Route(target, user, view.SelfId, ref remote));
            if (here)
            {
                (local ??= []).Add(user);
            }
        }

        if (local is not null)
        {
            PushToLocal(local, sender, push, storedAtUs);
        }

        if (remote is not null)
        {
            var frame = push.Bytes(FrameEncoding.Proto);
            var traceParent = Telemetry.CurrentTraceParent();
            foreach (var (owner, remoteUsers) in remote.Values)
            {
                _remote.Forward(owner, new RemotePush(remoteUsers, sender, frame, push.DeliveryId ?? "", storedAtUs, view.Epoch, traceParent));
            }
        }
    }

    // Adds the user to its owner's remote group; true when the owner is this node.
    private static bool Route(NodeInfo owner, string user, string selfId, ref Dictionary<string, (NodeInfo Owner, List<string> Users)>? remote)
    {
        if (owner.NodeId == selfId)
        {
            return true;
        }

        remote ??= new(StringComparer.Ordinal);
        if (!remote.TryGetValue(owner.NodeId, out var entry))
        {
            remote[owner.NodeId] = entry = (owner, []);
        }

        entry.Users.Add(user);
        return false;
    }

    /// <summary>Pushes to this node's connections of <paramref name="users"/>, except the sender's; returns how many.</summary>
    public int PushToLocal(IEnumerable<string> users, ClientAddress sender, OutboundFrame push, long storedAtUs)
    {
        using var span = Telemetry.Source.StartActivity("delivery.push");
        var pushed = 0;
        foreach (var user in users)
        {
            foreach (var connection in _registry.ForUser(user))
            {
                if (connection.Address != sender)
                {
                    connection.Deliver(push);
                    pushed++;
                }
            }
        }

        span?.SetTag("delivery.connections", pushed);
        if (pushed > 0)
        {
            _metrics.Pushed("live", pushed);
            var nowUs = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
            _metrics.Latency(TimeSpan.FromMicroseconds(nowUs - storedAtUs));
        }

        return pushed;
    }

    /// <summary>
    /// Loads the items behind inbox entries as push frames, in the entries' order. Entries whose item expired or
    /// whose id is not one this node mints are removed from the client's inbox.
    /// </summary>
    public async Task<List<OutboundFrame>> LoadAsync(ClientAddress client, IReadOnlyList<string> deliveryIds, CancellationToken cancellationToken)
    {
        var messageKeys = new List<(string, long)>();
        var eventKeys = new List<(string, long)>();
        var plan = new (bool Message, int Index)[deliveryIds.Count];
        var dead = new List<string>();
        for (var i = 0; i < deliveryIds.Count; i++)
        {
            if (!DeliveryId.TryParse(deliveryIds[i], out var isMessage, out var chatId, out var number))
            {
                plan[i] = (false, -1);
                dead.Add(deliveryIds[i]);
                continue;
            }

            var keys = isMessage ? messageKeys : eventKeys;
            plan[i] = (isMessage, keys.Count);
            keys.Add((chatId, number));
        }

        var messagesTask = messageKeys.Count > 0 ? _messages.GetMessagesAsync(messageKeys, cancellationToken) : Task.FromResult<IReadOnlyList<StoredMessage?>>([]);
        var eventsTask = eventKeys.Count > 0 ? _chats.GetEventsAsync(eventKeys, cancellationToken) : Task.FromResult<IReadOnlyList<ChatEvent?>>([]);
        var messages = await messagesTask.ConfigureAwait(false);
        var events = await eventsTask.ConfigureAwait(false);

        var frames = new List<OutboundFrame>(deliveryIds.Count);
        for (var i = 0; i < deliveryIds.Count; i++)
        {
            var (isMessage, index) = plan[i];
            OutboundFrame? frame = index < 0 ? null
                : isMessage ? messages[index] is { } m ? PushFrames.Message(m) : null
                : events[index] is { } e ? PushFrames.ChatEvent(e) : null;
            if (frame is null)
            {
                if (index >= 0)
                {
                    dead.Add(deliveryIds[i]);
                }

                continue;
            }

            frames.Add(frame);
        }

        if (dead.Count > 0)
        {
            await _inbox.RemoveAsync(client, dead, cancellationToken).ConfigureAwait(false);
        }

        return frames;
    }

    /// <summary>
    /// Pushes the client's stored inbox, oldest first, page by page (waiting for the connection's queue to drain
    /// between pages), then releases the live pushes held meanwhile. Returns how many entries were pushed.
    /// </summary>
    public async Task<int> ReplayAsync(ClientConnection connection, int pageSize, CancellationToken cancellationToken)
    {
        var count = 0;
        var from = 0L;
        var atBoundary = new HashSet<string>(StringComparer.Ordinal);
        while (!connection.IsClosing)
        {
            var entries = await _inbox.ReadAsync(connection.Address, from, pageSize, cancellationToken).ConfigureAwait(false);
            var fresh = entries.Where(e => !(e.Score == from && atBoundary.Contains(e.DeliveryId))).ToArray();
            if (fresh.Length == 0)
            {
                break;
            }

            var frames = await LoadAsync(connection.Address, fresh.Select(e => e.DeliveryId).ToArray(), cancellationToken).ConfigureAwait(false);
            foreach (var frame in frames)
            {
                await connection.WaitForRoomAsync(frame.Bytes(connection.Encoding).Length, cancellationToken).ConfigureAwait(false);
                connection.DeliverStored(frame);
            }

            count += frames.Count;
            _metrics.Pushed("replay", frames.Count);
            var last = fresh[^1].Score;
            if (last != from)
            {
                atBoundary.Clear();
            }

            from = last;
            foreach (var entry in fresh.Where(e => e.Score == last))
            {
                atBoundary.Add(entry.DeliveryId);
            }

            if (entries.Count < pageSize)
            {
                break;
            }
        }

        connection.EndReplay();
        return count;
    }

    /// <summary>
    /// Pushes inbox entries older than <paramref name="storedBeforeUs"/> that this connection was never pushed: their
    /// live push was lost (the sending node failed between storing and pushing). Reads one page, oldest first.
    /// </summary>
    public async Task<int> ResyncAsync(ClientConnection connection, long storedBeforeUs, int pageSize, CancellationToken cancellationToken)
    {
        var entries = await _inbox.ReadAsync(connection.Address, 0, pageSize, cancellationToken).ConfigureAwait(false);
        var missed = entries.Where(e => e.Score < storedBeforeUs && !connection.IsPending(e.DeliveryId)).Select(e => e.DeliveryId).ToArray();
        if (missed.Length == 0)
        {
            return 0;
        }

        var frames = await LoadAsync(connection.Address, missed, cancellationToken).ConfigureAwait(false);
        return PushWhileRoom(connection, frames, "resync", countUnacknowledged: true);
    }

    /// <summary>
    /// Resyncs every connection of <paramref name="users"/> on this node at once (<see cref="ResyncAsync"/>, entries
    /// stored at or before <paramref name="storedBeforeUs"/>): a peer dropped or lost live pushes for them. Failures
    /// are logged; the periodic resync tries again.
    /// </summary>
    public async Task ResyncUsersAsync(IReadOnlyList<string> users, long storedBeforeUs, CancellationToken cancellationToken)
    {
        var resyncs = new List<Task>();
        foreach (var user in users)
        {
            foreach (var connection in _registry.ForUser(user))
            {
                if (!connection.IsClosing && !connection.IsReplaying)
                {
                    resyncs.Add(TryResyncAsync(connection, storedBeforeUs + 1, cancellationToken));
                }
            }
        }

        await Task.WhenAll(resyncs).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="ResyncAsync"/> a page of <see cref="DeliveryOptions.ReplayPageSize"/> at a time, a failure logged
    /// rather than thrown: the next resync tries again.
    /// </summary>
    internal async Task TryResyncAsync(ClientConnection connection, long storedBeforeUs, CancellationToken cancellationToken)
    {
        try
        {
            await ResyncAsync(connection, storedBeforeUs, _options.ReplayPageSize, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            DeliveryLog.SweepFailed(_logger, ex);
        }
    }

    /// <summary>Pushes again what the connection left unacknowledged for longer than the redelivery timeout.</summary>
    public async Task<int> RedeliverAsync(ClientConnection connection, long pushedBefore, CancellationToken cancellationToken)
    {
        var due = connection.DuePushes(pushedBefore);
        if (due.Count == 0)
        {
            return 0;
        }

        var frames = await LoadAsync(connection.Address, due, cancellationToken).ConfigureAwait(false);
        var loaded = new HashSet<string>(frames.Select(f => f.DeliveryId!), StringComparer.Ordinal);
        connection.Acknowledge(due.Where(id => !loaded.Contains(id)));

        // Redelivered pushes are already counted as unacknowledged: only the byte budget limits them.
        return PushWhileRoom(connection, frames, "redelivery", countUnacknowledged: false);
    }

    // The sweeps never wait on one connection: what does not fit now is left for the next sweep.
    private int PushWhileRoom(ClientConnection connection, List<OutboundFrame> frames, string kind, bool countUnacknowledged)
    {
        var pushed = 0;
        foreach (var frame in frames)
        {
            var size = frame.Bytes(connection.Encoding).Length;
            if (!(countUnacknowledged ? connection.HasRoomFor(size) : connection.HasBytesFor(size)))
            {
                break;
            }

            connection.DeliverStored(frame);
            pushed++;
        }

        _metrics.Pushed(kind, pushed);
        return pushed;
    }
}
