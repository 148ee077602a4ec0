using System.Threading.Channels;
using ChatNode.Protocol.Peer;
using ChatNode.Registry.Ring;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace ChatNode.Peering;

/// <summary>
/// The sending end of one peer stream. Deliveries wait in a bounded queue (a full queue drops new ones: they are in
/// the inboxes already), and one loop sends them in batches over a persistent bidirectional stream. The stream counts
/// as open once the peer answered (its response headers, sent after it accepted the credentials). A stream that fails
/// before that is retried with exponential backoff and jitter (100 ms up to 5 s); one that the peer had answered is
/// reopened at once, with a fresh backoff. A dead peer is logged once when it goes down and once when it is back, not
/// per attempt. A stalled peer fills only its own queue. The users of deliveries dropped (queue full) or lost with a
/// broken stream are named in the next batch that goes out, so that the peer pushes them their inboxes at once instead
/// of at its next periodic resync. Owned by <see cref="PeerForwarder"/>.
/// </summary>
internal sealed class PeerClient : IAsyncDisposable
{
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Users named for a resync in one batch at most; beyond them the peer's periodic resync finds the rest.</summary>
    internal const int MaxMissedUsers = 10_000;

    private readonly Channel<Protocol.Peer.Delivery> _queue;
    private readonly string _selfId;
    private readonly PeerAuth _auth;
    private readonly PeerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _batchSize;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private long _nextBatch;
    private int _connects;
    private int _failedAttempts;
    private volatile bool _down;
    private CancellationTokenSource? _call;
    private GrpcChannel? _channel;
    private readonly object _missedGate = new();
    private HashSet<string>? _missed;
    private long _missedStoredAtUs;

    public PeerClient(NodeInfo peer, string selfId, PeerAuth auth, int capacity, int batchSize, PeerMetrics metrics, ILogger logger, TimeProvider time)
    {
        Peer = peer;
        _selfId = selfId;
        _auth = auth;
        _batchSize = batchSize;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        // Wait, not DropWrite: with DropWrite a full channel drops the item and still reports it written. Nothing
        // waits on it here: TryEnqueue only tries, and a refused delivery is counted and its users remembered.
        _queue = Channel.CreateBounded<Protocol.Peer.Delivery>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    public NodeInfo Peer { get; }

    /// <summary>How many times the stream was (re)opened and answered by the peer.</summary>
    public int Connects => Volatile.Read(ref _connects);

    /// <summary>Attempts to open the stream that failed since it was last open.</summary>
    public int FailedAttempts => Volatile.Read(ref _failedAttempts);

    /// <summary>True while the peer does not answer: the stream broke or could not be opened, and no attempt has succeeded since.</summary>
    public bool IsDown => _down;

    /// <summary>Starts the sending loop; <see cref="DisposeAsync"/> stops and awaits it.</summary>
    public void Start()
    {
        // A peer that restarts is back within seconds: gRPC's own reconnect backoff (up to two minutes) would keep
        // the stream down long after; the stream's retry loop paces the attempts instead.
        _channel = GrpcChannel.ForAddress(Peer.PeerUrl, new GrpcChannelOptions
        {
            InitialReconnectBackoff = TimeSpan.FromMilliseconds(100),
            MaxReconnectBackoff = TimeSpan.FromSeconds(1),
        });
        _loop = RunAsync(_channel, _stop.Token);
    }

    /// <summary>Asks the peer how many connections it still holds for users it hands over to <paramref name="nodeId"/>.</summary>
    public async Task<int> HandoffRemainingAsync(string nodeId, CancellationToken cancellationToken)
    {
        var channel = _channel ?? throw new InvalidOperationException("The peer client has not started.");
        var reply = await new Protocol.Peer.Peer.PeerClient(channel).HandoffStatusAsync(
            new HandoffStatusRequest { NodeId = nodeId }, Headers(), deadline: _time.GetUtcNow().UtcDateTime + AnswerTimeout, cancellationToken: cancellationToken).ConfigureAwait(false);
        return (int)reply.Remaining;
    }

    private Metadata Headers() => new() { { PeerAuth.NodeHeader, _selfId }, { PeerAuth.AuthHeader, _auth.Sign(_selfId) } };

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
        Missed(delivery.UserIds, delivery.StoredAtUs);
        return false;
    }

    // Remembers users whose deliveries will not arrive, for the next batch to name.
    private void Missed(IEnumerable<string> users, long storedAtUs)
    {
        lock (_missedGate)
        {
            _missed ??= new HashSet<string>(StringComparer.Ordinal);
            foreach (var user in users)
            {
                if (_missed.Count < MaxMissedUsers)
                {
                    _missed.Add(user);
                }
            }

            _missedStoredAtUs = Math.Max(_missedStoredAtUs, storedAtUs);
        }
    }

    // Read without the lock: the loop only needs to see users remembered before a drop that filled the queue it drains.
    private bool HasMissed => Volatile.Read(ref _missed) is not null;

    // Moves the users remembered so far into the batch.
    private void TakeMissed(DeliveryBatch batch)
    {
        lock (_missedGate)
        {
            if (_missed is not null)
            {
                batch.ResyncUserIds.Add(_missed);
                batch.ResyncStoredBeforeUs = _missedStoredAtUs;
                (_missed, _missedStoredAtUs) = (null, 0);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _channel?.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(GrpcChannel channel, CancellationToken stop)
    {
        await Task.Yield();
        var client = new Protocol.Peer.Peer.PeerClient(channel);
        var headers = Headers();
        var backoff = new ResiliencePipelineBuilder { TimeProvider = _time }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex && !stop.IsCancellationRequested && IsTransient(ex)),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(100),
            MaxDelay = TimeSpan.FromSeconds(5),
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                Failed(args.Outcome.Exception!, args.RetryDelay);
                return default;
            },
        }).Build();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await backoff.ExecuteAsync(ct => StreamOnceAsync(client, headers, ct), stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (stop.IsCancellationRequested && ex is OperationCanceledException or RpcException)
            {
            }
        }
    }

    // Opens the stream and sends until it ends. Throws if the peer does not answer (the caller backs off); returns
    // when a stream the peer had answered breaks (the caller reopens at once) or when this client stops.
    private async ValueTask StreamOnceAsync(Protocol.Peer.Peer.PeerClient client, Metadata headers, CancellationToken stop)
    {
        using var callScope = CancellationTokenSource.CreateLinkedTokenSource(stop);
        Volatile.Write(ref _call, callScope);
        using var call = client.Deliver(headers, cancellationToken: callScope.Token);
        await call.ResponseHeadersAsync.WaitAsync(AnswerTimeout, _time, callScope.Token).ConfigureAwait(false);
        Connected();

        // The acks are read all along, so a peer that ends the stream is noticed at once, not only when a batch is next
        // sent: the watcher cancels the call, which wakes the wait for deliveries below.
        var ended = WatchAcksAsync(call.ResponseStream, callScope);
        DeliveryBatch? inFlight = null;
        try
        {
            // A drop needs a full queue, so the wait below never sleeps on users waiting to be named (and it returns at
            // once while deliveries are queued).
            while (HasMissed || await _queue.Reader.WaitToReadAsync(callScope.Token).ConfigureAwait(false))
            {
                var batch = new DeliveryBatch { BatchId = (ulong)Interlocked.Increment(ref _nextBatch) };
                while (batch.Deliveries.Count < _batchSize && _queue.Reader.TryRead(out var delivery))
                {
                    batch.Deliveries.Add(delivery);
                }

                TakeMissed(batch);
                inFlight = batch;
                await call.RequestStream.WriteAsync(batch, callScope.Token).ConfigureAwait(false);
                inFlight = null;
                _metrics.Forwarded(batch.Deliveries.Count);
            }

            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (!stop.IsCancellationRequested && IsTransient(ex))
        {
            // The batch in flight may be lost: its deliveries are in the inboxes, and the next stream names their users
            // for a resync (the peer pushes only what their connections were not pushed). A cancelled call was ended
            // by the peer (or broken on purpose): the watcher knows how.
            if (inFlight is not null)
            {
                Missed(inFlight.Deliveries.SelectMany(d => d.UserIds).Concat(inFlight.ResyncUserIds), Math.Max(inFlight.ResyncStoredBeforeUs, inFlight.Deliveries.Max(d => (long?)d.StoredAtUs) ?? 0));
            }

            Lost(callScope.IsCancellationRequested ? await ended.ConfigureAwait(false) : ex);
        }
        finally
        {
            await callScope.CancelAsync().ConfigureAwait(false);
            await ended.ConfigureAwait(false);
        }
    }

    private void Connected()
    {
        Interlocked.Increment(ref _connects);
        var failed = Interlocked.Exchange(ref _failedAttempts, 0);
        _down = false;
        PeerLog.Connected(_logger, Peer.NodeId, Peer.PeerUrl, failed);
    }

    private void Lost(Exception exception)
    {
        _down = true;
        PeerLog.Lost(_logger, Peer.NodeId, Peer.PeerUrl, exception);
    }

    // Only the first failure after the stream was last open (or ever) is a warning; later ones are the same outage.
    private void Failed(Exception exception, TimeSpan delay)
    {
        var attempt = Interlocked.Increment(ref _failedAttempts);
        if (!_down)
        {
            _down = true;
            PeerLog.Unreachable(_logger, Peer.NodeId, Peer.PeerUrl, exception);
        }
        else
        {
            PeerLog.StillUnreachable(_logger, Peer.NodeId, attempt, (int)delay.TotalMilliseconds, exception.Message);
        }
    }

    private static bool IsTransient(Exception ex) =>
        ex is RpcException or IOException or InvalidOperationException or HttpRequestException or OperationCanceledException or TimeoutException;

    // Reads acks until the stream ends, then cancels the call; returns how the stream ended.
    private static async Task<Exception> WatchAcksAsync(IAsyncStreamReader<DeliveryBatchAck> acks, CancellationTokenSource call)
    {
        Exception ended;
        try
        {
            while (await acks.MoveNext(call.Token).ConfigureAwait(false))
            {
            }

            ended = new IOException("the peer closed the stream");
        }
        catch (Exception ex)
        {
            ended = ex;
        }

        await call.CancelAsync().ConfigureAwait(false);
        return ended;
    }
}
