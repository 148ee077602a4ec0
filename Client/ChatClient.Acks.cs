using System.Net.WebSockets;
using System.Threading.Channels;
using ChatNode.Protocol.V1;

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

    // Batches acknowledgements: one ack frame for everything that arrived during the ack delay. The acks are quiet (the
    // node answers only a failed one): nothing here needs the count, and a failed ack costs nothing but a redelivery,
    // which the client drops by message id. Ends when the channel is completed and drained (dispose flushes through it).
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
                if (_disposing)
                {
                    // The last batch waits for its result, so the client knows the node has it before it closes.
                    await AckAsync(batch, CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    await SendQuietAckAsync(batch, _disposed.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is ChatConnectionException or ChatErrorException or OperationCanceledException)
            {
                // Unacknowledged pushes are pushed again and deduplicated; nothing to do.
            }

            batch.Clear();
        }
    }

    private async Task SendQuietAckAsync(List<string> deliveryIds, CancellationToken cancellationToken)
    {
        var socket = _socket ?? throw new ChatConnectionException("not connected");
        var ack = new Ack { Quiet = true };
        ack.DeliveryIds.Add(deliveryIds);
        try
        {
            // A request id of its own: an error answer (or the result an older node sends anyway) matches no pending
            // request and is dropped.
            await SendFrameAsync(socket, new ClientFrame { RequestId = (ulong)Interlocked.Increment(ref _nextRequestId), Ack = ack }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            throw new ChatConnectionException("the connection is gone", ex, requestSent: false);
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
