using System.Threading.Channels;
using ChatNode.Protocol.Peer;
using ChatNode.Registry.Ring;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace ChatNode.Peering;

/// <summary>
/// The sending end of one peer stream. Deliveries wait in a bounded queue (a full queue drops new ones: they are in
/// the inboxes already), and one loop sends them in batches over a persistent bidirectional stream, reconnecting
/// with jittered backoff. A stalled peer therefore fills only its own queue. Owned by <see cref="PeerForwarder"/>.
/// </summary>
internal sealed class PeerClient : IAsyncDisposable
{
    private readonly Channel<Protocol.Peer.Delivery> _queue;
    private readonly string _selfId;
    private readonly PeerAuth _auth;
    private readonly PeerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly int _batchSize;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private long _nextBatch;
    private int _connects;
    private CancellationTokenSource? _call;

    public PeerClient(NodeInfo peer, string selfId, PeerAuth auth, int capacity, int batchSize, PeerMetrics metrics, ILogger logger)
    {
        Peer = peer;
        _selfId = selfId;
        _auth = auth;
        _batchSize = batchSize;
        _metrics = metrics;
        _logger = logger;
        _queue = Channel.CreateBounded<Protocol.Peer.Delivery>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        });
    }

    /// <summary>Starts the sending loop; <see cref="DisposeAsync"/> stops and awaits it.</summary>
    public void Start() => _loop = RunAsync(_stop.Token);

    public NodeInfo Peer { get; }

    /// <summary>How many times the stream was (re)opened.</summary>
    public int Connects => Volatile.Read(ref _connects);

    /// <summary>Breaks the current stream as a network fault would; the loop reconnects. For fault tests.</summary>
    internal void BreakStream() => Volatile.Read(ref _call)?.Cancel();

    /// <summary>Queues a delivery; false when the queue is full (the delivery is then left to the inbox).</summary>
    public bool TryEnqueue(Protocol.Peer.Delivery delivery)
    {
        if (_queue.Writer.TryWrite(delivery))
        {
            return true;
        }

        _metrics.Dropped(1);
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        await Task.Yield();
        var delay = 100;
        using var channel = GrpcChannel.ForAddress(Peer.PeerUrl);
        var client = new Protocol.Peer.Peer.PeerClient(channel);
        var headers = new Metadata { { PeerAuth.NodeHeader, _selfId }, { PeerAuth.AuthHeader, _auth.Sign(_selfId) } };
        while (!stop.IsCancellationRequested)
        {
            using var callScope = CancellationTokenSource.CreateLinkedTokenSource(stop);
            Volatile.Write(ref _call, callScope);
            try
            {
                using var call = client.Deliver(headers, cancellationToken: callScope.Token);
                var acks = DrainAcksAsync(call.ResponseStream, callScope.Token);
                Interlocked.Increment(ref _connects);
                PeerLog.Connected(_logger, Peer.NodeId, Peer.PeerUrl);
                delay = 100;
                while (await _queue.Reader.WaitToReadAsync(callScope.Token).ConfigureAwait(false))
                {
                    var batch = new DeliveryBatch { BatchId = (ulong)Interlocked.Increment(ref _nextBatch) };
                    while (batch.Deliveries.Count < _batchSize && _queue.Reader.TryRead(out var delivery))
                    {
                        batch.Deliveries.Add(delivery);
                    }

                    if (acks.IsCompleted)
                    {
                        await acks.ConfigureAwait(false);
                        throw new IOException("the peer closed the stream");
                    }

                    await call.RequestStream.WriteAsync(batch, callScope.Token).ConfigureAwait(false);
                    _metrics.Forwarded(batch.Deliveries.Count);
                }

                await call.RequestStream.CompleteAsync().ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (!stop.IsCancellationRequested && ex is RpcException or IOException or InvalidOperationException or HttpRequestException or OperationCanceledException)
            {
                // The batch in flight may be lost: its deliveries are in the inboxes and come by resync or replay.
                PeerLog.Failed(_logger, Peer.NodeId, Peer.PeerUrl, delay, ex);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(delay * (0.5 + (Random.Shared.NextDouble() / 2))), stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = Math.Min(delay * 2, 2000);
            }
            catch (Exception ex) when (stop.IsCancellationRequested && ex is OperationCanceledException or RpcException)
            {
                return;
            }
        }
    }

    private static async Task DrainAcksAsync(IAsyncStreamReader<DeliveryBatchAck> acks, CancellationToken stop)
    {
        while (await acks.MoveNext(stop).ConfigureAwait(false))
        {
        }
    }
}
