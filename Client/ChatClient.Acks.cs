using System.Threading.Channels;

namespace ChatNode.Client;

public sealed partial class ChatClient
{
    private static readonly TimeSpan AckFlushTimeout = TimeSpan.FromSeconds(2);

    private readonly Channel<string> _acks;
    private Task _ackLoop = Task.CompletedTask;

    private void AutoAck(string deliveryId)
    {
        if (_options.AutoAck)
        {
            _acks.Writer.TryWrite(deliveryId);
        }
    }

    // Batches acknowledgements: one ack frame for everything that arrived while the previous one was in flight. Ends
    // when the channel is completed and drained (dispose flushes through it).
    private async Task AckLoopAsync()
    {
        var batch = new List<string>(512);
        while (await _acks.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (_options.AckDelay > TimeSpan.Zero && !_disposing)
            {
                try
                {
                    await Task.Delay(_options.AckDelay, _time, _disposed.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }

            while (batch.Count < 500 && _acks.Reader.TryRead(out var id))
            {
                batch.Add(id);
            }

            try
            {
                await AckAsync(batch, _disposing ? CancellationToken.None : _disposed.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ChatConnectionException or ChatErrorException or OperationCanceledException)
            {
                // Unacknowledged pushes are pushed again and deduplicated; nothing to do.
            }

            batch.Clear();
        }
    }

    // Sends what is gathered (bounded by AckFlushTimeout) while the connection still reads results.
    private async Task FlushAcksAsync()
    {
        _acks.Writer.TryComplete();
        try
        {
            await _ackLoop.WaitAsync(AckFlushTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }
}
