using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;
using ChatNode.Connections;

namespace ChatNode.Endpoints;

/// <summary>
/// A connection's pipes as the stream <see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/> reads
/// and writes, reading from and writing into the pipes' pooled memory. It notes when the client last sent anything,
/// and can write a ping between the WebSocket's frames (<see cref="IKeepAliveTransport"/>): each of the WebSocket's
/// writes is one whole frame, and writes are serialized.
/// </summary>
internal sealed class DuplexPipeStream(IDuplexPipe pipe, TimeProvider time) : Stream, IKeepAliveTransport
{
    // A server's ping: FIN, opcode 9, unmasked, no payload.
    private static readonly byte[] PingFrame = [0x89, 0x00];

    private readonly PipeReader _input = pipe.Input;
    private readonly PipeWriter _output = pipe.Output;
    private readonly SemaphoreSlim _writing = new(1, 1);
    private long _lastReceived = time.GetTimestamp();
    private long _lastPinged;

    public long LastReceived => Volatile.Read(ref _lastReceived);

    public long LastPinged => Volatile.Read(ref _lastPinged);

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public ValueTask PingAsync(CancellationToken cancellationToken)
    {
        // A frame being written is traffic already; the next walk pings if the client stays silent.
        if (!_writing.Wait(0, CancellationToken.None))
        {
            return ValueTask.CompletedTask;
        }

        Volatile.Write(ref _lastPinged, time.GetTimestamp());
        try
        {
            _output.Write(PingFrame);
            var flush = _output.FlushAsync(cancellationToken);
            if (flush.IsCompletedSuccessfully)
            {
                _ = flush.Result;
                _writing.Release();
                return ValueTask.CompletedTask;
            }

            return ReleaseAfterAsync(flush);
        }
        catch
        {
            _writing.Release();
            throw;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var read = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (read.IsCanceled)
            {
                throw new OperationCanceledException(cancellationToken);
            }

            var available = read.Buffer;
            if (!available.IsEmpty)
            {
                var count = (int)Math.Min(available.Length, buffer.Length);
                available.Slice(0, count).CopyTo(buffer.Span);
                _input.AdvanceTo(available.GetPosition(count));
                Volatile.Write(ref _lastReceived, time.GetTimestamp());
                return count;
            }

            _input.AdvanceTo(available.End);
            if (read.IsCompleted)
            {
                return 0;
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _output.Write(buffer.Span);
            if ((await _output.FlushAsync(cancellationToken).ConfigureAwait(false)).IsCanceled)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
        finally
        {
            _writing.Release();
        }
    }

    public override void Flush()
    {
    }

    private async ValueTask ReleaseAfterAsync(ValueTask<FlushResult> flush)
    {
        try
        {
            await flush.ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _writing.Dispose();
        }

        base.Dispose(disposing);
    }
}
