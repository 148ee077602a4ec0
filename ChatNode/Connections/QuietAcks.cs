namespace ChatNode.Connections;

/// <summary>
/// A connection's quiet acks, merged: while one removal of the connection's inbox entries is in the store, the ids of
/// quiet acks that arrive meanwhile wait and go together in the next removal. A connection therefore costs the store
/// at most one removal per round trip however often its client acks, and a client that acks each push on its own
/// (a quiet ack needs no count, so nothing is lost by merging) costs little more than one that batches. Each ack
/// completes with the removal that carried its ids, or fails with it.
/// </summary>
public sealed class QuietAcks
{
    private readonly Lock _gate = new();
    private List<string>? _waiting;
    private TaskCompletionSource? _nextRound;
    private bool _removing;

    /// <summary>Completes when a removal that carried <paramref name="deliveryIds"/> did; <paramref name="remove"/> runs one removal.</summary>
    public Task AcknowledgeAsync(IReadOnlyList<string> deliveryIds, Func<IReadOnlyList<string>, Task> remove)
    {
        TaskCompletionSource round;
        lock (_gate)
        {
            (_waiting ??= []).AddRange(deliveryIds);
            round = _nextRound ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_removing)
            {
                return round.Task;
            }

            _removing = true;
        }

        _ = RemoveRoundsAsync(remove);
        return round.Task;
    }

    // Ends by itself once no ids wait, and never throws (a failure goes to the acks of its round), so it needs no owner.
    private async Task RemoveRoundsAsync(Func<IReadOnlyList<string>, Task> remove)
    {
        while (true)
        {
            List<string> ids;
            TaskCompletionSource round;
            lock (_gate)
            {
                if (_waiting is null)
                {
                    _removing = false;
                    return;
                }

                (ids, round) = (_waiting, _nextRound!);
                (_waiting, _nextRound) = (null, null);
            }

            try
            {
                await remove(ids).ConfigureAwait(false);
                round.SetResult();
            }
            catch (Exception ex)
            {
                round.SetException(ex);
            }
        }
    }
}
