using System.Collections.Concurrent;
using ChatNode.Protocol.V1;

namespace ChatNode.Client;

/// <summary>
/// A send the client has not settled yet: kept from before its first attempt until the node answered it (stored, or
/// refused), so that a send whose outcome is unknown (the store failed after it may have written, the connection
/// dropped with the request in flight) is retried with the same <see cref="ClientMessageId"/> and never stored twice.
/// </summary>
public sealed record PendingSend(string ClientMessageId, string ChatId, string Text, IReadOnlyList<Attachment> Attachments, DateTimeOffset Created);

/// <summary>How a pending send ended: <see cref="Result"/> when stored, <see cref="Error"/> when refused (nothing was stored).</summary>
public sealed record SettledSend(PendingSend Send, SendMessageResult? Result, Exception? Error);

/// <summary>
/// Where the client keeps its <see cref="PendingSend"/>s. The default (<see cref="MemorySendOutbox"/>) lives as long as
/// the client; an app that keeps this in its own storage (a table next to its messages) has sends whose outcome was
/// unknown when it stopped retried with their original ids by the next client it starts, so a message shown as pending
/// is stored once, however often the app restarts. Calls for one client never overlap for the same id.
/// </summary>
public interface ISendOutbox
{
    /// <summary>Keeps <paramref name="send"/> (before its first attempt).</summary>
    ValueTask SaveAsync(PendingSend send, CancellationToken cancellationToken);

    /// <summary>Forgets the send with this id (it settled).</summary>
    ValueTask RemoveAsync(string clientMessageId, CancellationToken cancellationToken);

    /// <summary>Every send kept, oldest first.</summary>
    ValueTask<IReadOnlyList<PendingSend>> LoadAsync(CancellationToken cancellationToken);
}

/// <summary>The in-memory <see cref="ISendOutbox"/>: pending sends live as long as the process. Thread-safe.</summary>
public sealed class MemorySendOutbox : ISendOutbox
{
    private readonly ConcurrentDictionary<string, PendingSend> _sends = new(StringComparer.Ordinal);

    public int Count => _sends.Count;

    public ValueTask SaveAsync(PendingSend send, CancellationToken cancellationToken)
    {
        _sends[send.ClientMessageId] = send;
        return ValueTask.CompletedTask;
    }

    public ValueTask RemoveAsync(string clientMessageId, CancellationToken cancellationToken)
    {
        _sends.TryRemove(clientMessageId, out _);
        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<PendingSend>> LoadAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<PendingSend>>([.. _sends.Values.OrderBy(s => s.Created)]);
}

/// <summary>
/// A send not confirmed within <see cref="ChatClientOptions.SendRetryBudget"/> that may have been stored (and may be
/// delivered). It stays in the outbox and is retried with the same client message id on every connect and every
/// <see cref="ChatClientOptions.OutboxRetryInterval"/>; <see cref="ChatClientOptions.OnSendSettled"/> reports how it
/// ends. Show it as pending; never send it again as a new message.
/// </summary>
public sealed class SendOutcomeUnknownException(PendingSend send, Exception? last)
    : Exception($"send {send.ClientMessageId} not confirmed and may have been stored; it stays in the outbox and is retried with the same id", last)
{
    public PendingSend Send { get; } = send;
}
