using System.Net.WebSockets;

namespace ChatNode.UnitTests.Infrastructure;

/// <summary>
/// A server-side WebSocket with no network: records what is sent and how it is closed. While <see cref="Blocked"/> is
/// set, sends wait (a peer that stopped reading), until unblocked or cancelled.
/// </summary>
public sealed class FakeWebSocket : WebSocket
{
    private readonly object _gate = new();
    private readonly List<byte[]> _sent = [];
    private TaskCompletionSource _unblocked = CompletedSource();
    private WebSocketState _state = WebSocketState.Open;
    private WebSocketCloseStatus? _closeStatus;
    private string? _closeDescription;

    public bool Blocked
    {
        set
        {
            lock (_gate)
            {
                if (value && _unblocked.Task.IsCompleted)
                {
                    _unblocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                else if (!value)
                {
                    _unblocked.TrySetResult();
                }
            }
        }
    }

    /// <summary>The payloads sent so far, in order.</summary>
    public IReadOnlyList<byte[]> Sent
    {
        get
        {
            lock (_gate)
            {
                return [.. _sent];
            }
        }
    }

    public override WebSocketCloseStatus? CloseStatus => _closeStatus;

    public override string? CloseStatusDescription => _closeDescription;

    public override WebSocketState State => _state;

    public override string? SubProtocol => null;

    public override void Abort() => _state = WebSocketState.Aborted;

    public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) =>
        CloseOutputAsync(closeStatus, statusDescription, cancellationToken);

    public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        (_closeStatus, _closeDescription, _state) = (closeStatus, statusDescription, WebSocketState.CloseSent);
        return Task.CompletedTask;
    }

    public override void Dispose() => _state = WebSocketState.Closed;

    public override Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken) =>
        Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith<WebSocketReceiveResult>(_ => throw new OperationCanceledException(cancellationToken), TaskScheduler.Default);

    public override async Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
    {
        Task unblocked;
        lock (_gate)
        {
            unblocked = _unblocked.Task;
        }

        await unblocked.WaitAsync(cancellationToken);
        lock (_gate)
        {
            _sent.Add(buffer.ToArray());
        }
    }

    private static TaskCompletionSource CompletedSource()
    {
        var source = new TaskCompletionSource();
        source.SetResult();
        return source;
    }
}
