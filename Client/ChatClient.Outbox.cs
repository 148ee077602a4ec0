using System.Collections.Concurrent;
using ChatNode.Protocol.V1;

namespace ChatNode.Client;

public sealed partial class ChatClient
{
    private readonly ConcurrentDictionary<string, bool> _sending = new(StringComparer.Ordinal);
    private readonly ISendOutbox _outbox;
    private TaskCompletionSource _outboxWake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _outboxLoop = Task.CompletedTask;

    // Claims a send for one caller at a time (the app's SendMessageAsync or the outbox loop); false if it is in progress.
    private bool TryClaim(string clientMessageId) => _sending.TryAdd(clientMessageId, true);

    /// <summary>
    /// Tries a kept send, claimed by the caller, until the node answers it or the retry budget ends; releases the claim.
    /// Stored: removed from the outbox, result returned. Refused, or never applied: removed, the failure thrown. Possibly
    /// stored: kept, and <see cref="SendOutcomeUnknownException"/> thrown (the outbox loop retries it).
    /// </summary>
    private async Task<SendMessageResult> SendClaimedAsync(PendingSend send, CancellationToken cancellationToken)
    {
        var command = new SendMessage { ChatId = send.ChatId, Text = send.Text, ClientMessageId = send.ClientMessageId };
        command.Attachments.Add(send.Attachments);
        var frame = new ClientFrame { SendMessage = command };
        var maybeStored = false;
        Exception? last = null;
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(_options.SendRetryBudget);
        try
        {
            var result = await _sendRetry.ExecuteAsync(async ct =>
            {
                try
                {
                    // A retry waits for the connection to be back rather than failing against a closed one.
                    await _connected.Task.WaitAsync(ct).ConfigureAwait(false);
                    return (await RequestAsync(frame.Clone(), ct).ConfigureAwait(false)).SendMessageResult;
                }
                catch (Exception ex) when (ex is ChatConnectionException or ChatErrorException)
                {
                    maybeStored |= ex is ChatConnectionException { RequestSent: true } or ChatErrorException { OutcomeUnknown: true };
                    last = ex;
                    throw;
                }
            }, budget.Token).ConfigureAwait(false);
            await _outbox.RemoveAsync(send.ClientMessageId, CancellationToken.None).ConfigureAwait(false);
            return result;
        }
        catch (Exception ex) when (ex is ChatErrorException or ChatConnectionException or OperationCanceledException)
        {
            // A refusal is definite even after an unknown attempt: had that attempt stored the message, the node would
            // have answered this one from it.
            if (maybeStored && ex is not ChatErrorException { IsRetryable: false })
            {
                // Only a retry with this id can tell; the caller's own cancellation does not change that.
                if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
                {
                    throw;
                }

                throw new SendOutcomeUnknownException(send, last);
            }

            await _outbox.RemoveAsync(send.ClientMessageId, CancellationToken.None).ConfigureAwait(false);
            if (ex is OperationCanceledException && budget.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new ChatConnectionException($"send not confirmed within {_options.SendRetryBudget}, and never applied{(last is null ? "" : "; last failure: " + last.Message)}", last);
            }

            throw;
        }
        finally
        {
            _sending.TryRemove(send.ClientMessageId, out _);
        }
    }

    // Retries the kept sends nobody is sending now, oldest first: after each welcome, and every OutboxRetryInterval
    // while connected. Runs from the first connect until the client is disposed.
    private async Task OutboxLoopAsync()
    {
        var stop = _disposed.Token;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var wake = Volatile.Read(ref _outboxWake);
                await Task.WhenAny(wake.Task, Task.Delay(_options.OutboxRetryInterval, _time, stop)).ConfigureAwait(false);
                stop.ThrowIfCancellationRequested();
                if (wake.Task.IsCompleted)
                {
                    Interlocked.CompareExchange(ref _outboxWake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), wake);
                }

                if (!_connected.Task.IsCompleted)
                {
                    continue;
                }

                foreach (var send in await _outbox.LoadAsync(stop).ConfigureAwait(false))
                {
                    if (TryClaim(send.ClientMessageId))
                    {
                        await SettleAsync(send, stop).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    // Wakes the outbox loop now (a connection was welcomed).
    private void WakeOutbox() => Volatile.Read(ref _outboxWake).TrySetResult();

    private async Task SettleAsync(PendingSend send, CancellationToken stop)
    {
        SettledSend settled;
        try
        {
            settled = new SettledSend(send, await SendClaimedAsync(send, stop).ConfigureAwait(false), null);
        }
        catch (Exception ex) when (ex is SendOutcomeUnknownException || (ex is OperationCanceledException && stop.IsCancellationRequested))
        {
            return;
        }
        catch (Exception ex) when (ex is ChatErrorException or ChatConnectionException)
        {
            settled = new SettledSend(send, null, ex);
        }

        _options.OnSendSettled?.Invoke(settled);
    }
}
