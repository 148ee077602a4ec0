using System.Net.WebSockets;
using ChatNode.Protocol;
using ChatNode.Storage;

namespace ChatNode.Connections;

/// <summary>
/// One client's WebSocket. Producers (command handlers, fan-out, replay, redelivery) never await the socket: they
/// enqueue shared frame bytes into a queue whose queued bytes are capped by
/// <see cref="ConnectionOptions.OutboundBudgetBytes"/>; one writer loop owns all sends. The queue is allocated on first
/// use and an idle writer waits on a single completion source, so an idle connection costs a few hundred bytes here. A connection over budget, or
/// with too many unacknowledged pushes, is evicted as a slow consumer: its queue is dropped (the messages stay in
/// its inbox) and it is closed with <see cref="Protocol.CloseCode.SlowConsumer"/>.
/// Pushes are held while the inbox replays, so a client sees its stored inbox before anything newer.
/// Thread-safe.
/// </summary>
public sealed class ClientConnection : IDisposable
{
    private static long s_nextId;

    private static readonly IReadOnlyList<string> NoneDue = [];

    private readonly WebSocket _socket;
    private readonly ConnectionOptions _options;
    private readonly ConnectionMetrics _metrics;
    private readonly TimeProvider _time;
    private Queue<OutboundFrame>? _outbound;
    private TaskCompletionSource? _writerWake;
    private readonly CancellationTokenSource _abort;
    private readonly object _gate = new();
    private long _queuedBytes;
    private double _badFrames;
    private long _lastBadFrame;
    private int _pendingCount;
    private Dictionary<string, long>? _pending;
    private List<OutboundFrame>? _held;
    private HashSet<string>? _replayed;
    private bool _replaying = true;
    private bool _closing;
    private bool _dropQueue;
    private CloseCode? _closeCode;
    private string _closeReason = "";
    private TaskCompletionSource? _roomWaiter;
    private int _roomNeeded;
    private CloseRequest? _closeAfterResult;
    private QuietAcks? _quietAcks;

    /// <param name="keepAlive">The transport under <paramref name="socket"/> when <see cref="KeepAliveSweep"/> keeps it alive
    /// (the WebSocket then runs no keep-alive timer of its own).</param>
    public ClientConnection(WebSocket socket, ClientAddress address, FrameEncoding encoding, ConnectionOptions options, ConnectionMetrics metrics, TimeProvider time, IKeepAliveTransport? keepAlive = null)
    {
        _socket = socket;
        KeepAlive = keepAlive;
        Address = address;
        Encoding = encoding;
        _options = options;
        _metrics = metrics;
        _time = time;
        _abort = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        Id = Interlocked.Increment(ref s_nextId);
    }

    public long Id { get; }

    /// <summary>The transport the node keeps alive with <see cref="KeepAliveSweep"/>; null when the WebSocket does itself.</summary>
    public IKeepAliveTransport? KeepAlive { get; }

    public ClientAddress Address { get; }

    public FrameEncoding Encoding { get; }

    /// <summary>Cancelled when the connection must stop at once (eviction deadline, node stop).</summary>
    public CancellationToken Aborted => _abort.Token;

    /// <summary>The close code this node chose, if it closed the connection.</summary>
    public CloseCode? CloseCode => _closeCode;

    public bool IsClosing => Volatile.Read(ref _closing);

    internal WebSocket Socket => _socket;

    /// <summary>
    /// Queues a result or a frame that needs no acknowledgement. It counts against the outbound budget like a push (a
    /// client that sends requests without reading their results is a slow consumer too), except that a frame always
    /// fits in an empty queue: one large result alone is not a slow consumer.
    /// </summary>
    public bool Send(OutboundFrame frame) => Enqueue(frame, fitsWhenEmpty: true);

    /// <summary>
    /// Counts a malformed or rate-limited frame; the count leaks one a second. True once it passes
    /// <see cref="ConnectionOptions.MaxBadFrames"/>: the caller closes the connection with <see cref="Protocol.CloseCode.BadFrames"/>.
    /// </summary>
    public bool RecordBadFrame()
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            _badFrames = Math.Max(0, _badFrames - _time.GetElapsedTime(_lastBadFrame, now).TotalSeconds) + 1;
            _lastBadFrame = now;
            return _badFrames > _options.MaxBadFrames;
        }
    }

    /// <summary>Queues a live push; held until the inbox replay has finished.</summary>
    public void Deliver(OutboundFrame push)
    {
        lock (_gate)
        {
            if (_closing)
            {
                return;
            }

            if (_replaying)
            {
                (_held ??= []).Add(push);
                if (_held.Count > _options.MaxUnackedPushes)
                {
                    EvictLocked("too many pushes held during inbox replay");
                }

                return;
            }

            if (!TrackLocked(push.DeliveryId))
            {
                return;
            }
        }

        Enqueue(push);
    }

    /// <summary>Queues a push read from the inbox during replay or redelivery.</summary>
    public void DeliverStored(OutboundFrame push)
    {
        lock (_gate)
        {
            if (_closing || !TrackLocked(push.DeliveryId))
            {
                return;
            }

            if (_replaying)
            {
                (_replayed ??= new HashSet<string>(StringComparer.Ordinal)).Add(push.DeliveryId!);
            }
        }

        Enqueue(push);
    }

    /// <summary>Ends the replay: queues the pushes held meanwhile that the replay did not already send.</summary>
    public void EndReplay()
    {
        List<OutboundFrame> release = [];
        lock (_gate)
        {
            _replaying = false;
            foreach (var push in _held ?? [])
            {
                if (_replayed?.Contains(push.DeliveryId!) != true && TrackLocked(push.DeliveryId))
                {
                    release.Add(push);
                }
            }

            _held = null;
            _replayed = null;
        }

        foreach (var push in release)
        {
            Enqueue(push);
        }
    }

    public bool IsReplaying
    {
        get
        {
            lock (_gate)
            {
                return _replaying;
            }
        }
    }

    /// <summary>The connection's quiet acks, merged into one removal per store round trip; made at the first one.</summary>
    public QuietAcks QuietAcks => _quietAcks ?? Interlocked.CompareExchange(ref _quietAcks, new QuietAcks(), null) ?? _quietAcks;

    public void Acknowledge(IEnumerable<string> deliveryIds)
    {
        lock (_gate)
        {
            if (_pending is null)
            {
                return;
            }

            foreach (var id in deliveryIds)
            {
                _pending.Remove(id);
            }

            Volatile.Write(ref _pendingCount, _pending.Count);
            if (_roomWaiter is not null && HasRoomFor(_roomNeeded))
            {
                _roomWaiter.TrySetResult();
                _roomWaiter = null;
            }
        }
    }

    /// <summary>Delivery ids pushed before <paramref name="pushedBefore"/> (a <see cref="TimeProvider"/> timestamp) and not acknowledged.</summary>
    public IReadOnlyList<string> DuePushes(long pushedBefore)
    {
        lock (_gate)
        {
            // Nothing allocated for the usual idle connection: the sweep asks every connection every few seconds.
            List<string>? due = null;
            if (_pending is not null && !_replaying)
            {
                foreach (var (id, pushedAt) in _pending)
                {
                    if (pushedAt < pushedBefore)
                    {
                        (due ??= []).Add(id);
                    }
                }
            }

            return due ?? NoneDue;
        }
    }

    public bool IsPending(string deliveryId)
    {
        lock (_gate)
        {
            return _pending?.ContainsKey(deliveryId) == true;
        }
    }

    /// <summary>
    /// Whether a push of <paramref name="bytes"/> fits now: in the outbound byte budget, and with unacknowledged
    /// pushes under half their limit.
    /// </summary>
    public bool HasRoomFor(int bytes) =>
        Interlocked.Read(ref _queuedBytes) + bytes <= _options.OutboundBudgetBytes && Volatile.Read(ref _pendingCount) < _options.MaxUnackedPushes / 2;

    /// <summary>Whether <paramref name="bytes"/> more fit in the outbound byte budget now.</summary>
    public bool HasBytesFor(int bytes) => Interlocked.Read(ref _queuedBytes) + bytes <= _options.OutboundBudgetBytes;

    /// <summary>
    /// Completes when a push of <paramref name="bytes"/> fits (or the connection closes), so that replaying a
    /// large inbox is paced by the client's reading and acknowledging instead of tripping the slow-consumer eviction.
    /// </summary>
    public Task WaitForRoomAsync(int bytes, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (HasRoomFor(bytes) || _closing)
            {
                return Task.CompletedTask;
            }

            _roomNeeded = bytes;
            _roomWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _roomWaiter.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Asks the request loop to close gracefully once the current request's result is queued.</summary>
    public void RequestCloseAfterResult(CloseCode code, string reason) => Volatile.Write(ref _closeAfterResult, new CloseRequest(code, reason));

    internal CloseRequest? TakeCloseAfterResult() => Interlocked.Exchange(ref _closeAfterResult, null);

    /// <summary>Closes gracefully: what is queued is still sent, then the close frame. Idempotent.</summary>
    public void Close(CloseCode code, string reason) => BeginClose(code, reason, dropQueue: false, _options.ShutdownTimeout);

    /// <summary>Closes at once, dropping the queue: used for slow consumers. Idempotent.</summary>
    public void Evict(CloseCode code, string reason) => BeginClose(code, reason, dropQueue: true, TimeSpan.FromSeconds(2));

    /// <summary>Closes after the client closed: nothing more is sent but the close reply.</summary>
    internal void CloseByClient() => BeginClose(null, "", dropQueue: true, TimeSpan.FromSeconds(2));

    public void Dispose() => _abort.Dispose();

    /// <summary>Stops the connection at once (node stop): no close handshake. A connection that already ended is left alone.</summary>
    internal void Abort()
    {
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection ended (and was disposed) between the caller's snapshot and now: nothing left to stop.
            return;
        }

        // An idle writer waits on its wake-up alone (no registration on the token per wait): wake it to see the abort.
        lock (_gate)
        {
            _writerWake?.TrySetResult();
            _writerWake = null;
        }
    }

    /// <summary>The single writer: sends queued frames in order, then the close frame.</summary>
    public async Task RunWriterAsync()
    {
        var type = FrameCodec.MessageType(Encoding);
        try
        {
            while (true)
            {
                OutboundFrame? frame = null;
                Task? wake = null;
                lock (_gate)
                {
                    if (_dropQueue && _outbound is { Count: > 0 })
                    {
                        foreach (var dropped in _outbound)
                        {
                            Interlocked.Add(ref _queuedBytes, -dropped.Bytes(Encoding).Length);
                        }

                        _outbound.Clear();
                    }

                    if (_outbound is { Count: > 0 })
                    {
                        frame = _outbound.Dequeue();
                    }
                    else if (_closing)
                    {
                        break;
                    }
                    else if (_abort.IsCancellationRequested)
                    {
                        return;
                    }
                    else
                    {
                        _writerWake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        wake = _writerWake.Task;
                    }
                }

                if (frame is null)
                {
                    // Woken by a frame queued, a close begun or Abort (a close's deadline only runs once closing).
                    await wake!.ConfigureAwait(false);
                    continue;
                }

                var bytes = frame.Bytes(Encoding);
                await _socket.SendAsync(bytes.AsMemory(), type, endOfMessage: true, _abort.Token).ConfigureAwait(false);
                _metrics.FrameSent(bytes.Length);
                Released(bytes.Length);
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                var status = _closeCode is { } code ? (WebSocketCloseStatus)(int)code : WebSocketCloseStatus.NormalClosure;
                await _socket.CloseOutputAsync(status, _closeReason, _abort.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException or IOException)
        {
            // The socket is gone or the deadline passed; the receive loop sees the same and ends the connection.
            _abort.Cancel();
        }
    }

    private bool Enqueue(OutboundFrame frame, bool fitsWhenEmpty = false)
    {
        if (Volatile.Read(ref _closing))
        {
            return false;
        }

        var size = frame.Bytes(Encoding).Length;
        var queued = Interlocked.Add(ref _queuedBytes, size);
        if (queued > _options.OutboundBudgetBytes && !(fitsWhenEmpty && queued == size))
        {
            Interlocked.Add(ref _queuedBytes, -size);
            lock (_gate)
            {
                EvictLocked("outbound queue over budget");
            }

            return false;
        }

        TaskCompletionSource? wake;
        lock (_gate)
        {
            if (_closing)
            {
                Interlocked.Add(ref _queuedBytes, -size);
                return false;
            }

            (_outbound ??= new Queue<OutboundFrame>(4)).Enqueue(frame);
            wake = _writerWake;
            _writerWake = null;
        }

        wake?.TrySetResult();
        return true;
    }

    private void Released(int size)
    {
        Interlocked.Add(ref _queuedBytes, -size);
        if (Volatile.Read(ref _roomWaiter) is not null)
        {
            lock (_gate)
            {
                if (HasRoomFor(_roomNeeded))
                {
                    _roomWaiter?.TrySetResult();
                    _roomWaiter = null;
                }
            }
        }
    }

    private bool TrackLocked(string? deliveryId)
    {
        if (deliveryId is null)
        {
            return true;
        }

        _pending ??= new Dictionary<string, long>(StringComparer.Ordinal);
        _pending[deliveryId] = _time.GetTimestamp();
        Volatile.Write(ref _pendingCount, _pending.Count);
        if (_pending.Count > _options.MaxUnackedPushes)
        {
            EvictLocked("too many unacknowledged pushes");
            return false;
        }

        return true;
    }

    private void EvictLocked(string reason)
    {
        if (_closing)
        {
            return;
        }

        _metrics.SlowConsumerEvicted();
        CloseLocked(Protocol.CloseCode.SlowConsumer, reason, dropQueue: true, TimeSpan.FromSeconds(2));
    }

    private void BeginClose(CloseCode? code, string reason, bool dropQueue, TimeSpan deadline)
    {
        lock (_gate)
        {
            CloseLocked(code, reason, dropQueue, deadline);
        }
    }

    private void CloseLocked(CloseCode? code, string reason, bool dropQueue, TimeSpan deadline)
    {
        if (_closing)
        {
            return;
        }

        _closing = true;
        _closeCode = code;
        _closeReason = reason.Length > 100 ? reason[..100] : reason;
        _pending = null;
        _held = null;
        _roomWaiter?.TrySetResult();
        _roomWaiter = null;
        _dropQueue = dropQueue;
        _writerWake?.TrySetResult();
        _writerWake = null;
        _abort.CancelAfter(deadline);
    }
}

internal sealed record CloseRequest(CloseCode Code, string Reason);
