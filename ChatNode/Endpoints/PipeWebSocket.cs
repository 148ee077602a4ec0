using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Numerics;
using System.Text;
using System.Text.Unicode;
using ChatNode.Connections;

namespace ChatNode.Endpoints;

/// <summary>
/// The server side of RFC 6455 framing straight on a connection's pipes: frames are parsed from the input pipe's
/// pooled memory (unmasked while they are copied out) and written into the output pipe's, with no stream, no buffer of
/// its own and one state machine per pending receive. Pings are answered, pongs noted, protocol errors close the
/// connection with 1002 (invalid UTF-8 in a text message or a close reason: 1007), as RFC 6455 section 7.4 asks.
/// It also keeps the connection alive for <see cref="KeepAliveSweep"/> (<see cref="IKeepAliveTransport"/>): it notes
/// when the client last sent anything and can write a ping between frames. Writes are serialized; one receive at a time.
/// </summary>
internal sealed class PipeWebSocket : WebSocket, IKeepAliveTransport
{
    private const int MaxControlPayload = 125;
    private const byte Fin = 0x80;
    private const byte ReservedBits = 0x70;
    private const byte MaskBit = 0x80;

    // A server's ping: FIN, opcode 9, unmasked, no payload.
    private static readonly byte[] PingFrame = [0x89, 0x00];

    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly string _subProtocol;
    private long _lastReceived;
    private long _lastPinged;
    private int _state = (int)WebSocketState.Open;
    private WebSocketCloseStatus? _closeStatus;
    private string? _closeDescription;

    // Receive state, owned by the one receive in progress.
    private bool _inFrame;
    private long _frameLeft;
    private bool _frameIsFinal;
    private uint _mask;
    private int _maskOffset;
    private bool _inMessage;
    private WebSocketMessageType _messageType;
    private Utf8Tail _utf8;
    private ControlFrame _control;

    // Send state: the opcode of the next frame of a message being sent in parts.
    private bool _sendingParts;

    public PipeWebSocket(IDuplexPipe pipe, string subProtocol, TimeProvider time)
    {
        _input = pipe.Input;
        _output = pipe.Output;
        _subProtocol = subProtocol;
        _time = time;
        _lastReceived = time.GetTimestamp();
    }

    private enum Opcode : byte
    {
        Continuation = 0,
        Text = 1,
        Binary = 2,
        Close = 8,
        Ping = 9,
        Pong = 10,
    }

    public override WebSocketCloseStatus? CloseStatus => _closeStatus;

    public override string? CloseStatusDescription => _closeDescription;

    public override WebSocketState State => (WebSocketState)Volatile.Read(ref _state);

    public override string SubProtocol => _subProtocol;

    public long LastReceived => Volatile.Read(ref _lastReceived);

    public long LastPinged => Volatile.Read(ref _lastPinged);

    public ValueTask PingAsync(CancellationToken cancellationToken)
    {
        // A frame being written is traffic already; the next walk pings if the client stays silent.
        if (State is not (WebSocketState.Open or WebSocketState.CloseReceived) || !_writing.Wait(0, CancellationToken.None))
        {
            return ValueTask.CompletedTask;
        }

        Volatile.Write(ref _lastPinged, _time.GetTimestamp());
        _output.Write(PingFrame);
        return FlushAndReleaseAsync(cancellationToken);
    }

    public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
    {
        var received = await ReceiveAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
        return received.MessageType == WebSocketMessageType.Close
            ? new WebSocketReceiveResult(0, WebSocketMessageType.Close, true, _closeStatus, _closeDescription)
            : new WebSocketReceiveResult(received.Count, received.MessageType, received.EndOfMessage);
    }

    public override async ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (State is not (WebSocketState.Open or WebSocketState.CloseSent))
        {
            throw new WebSocketException(WebSocketError.InvalidState, $"Cannot receive in state {State}.");
        }

        try
        {
            while (true)
            {
                var read = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (read.IsCanceled)
                {
                    throw new OperationCanceledException(cancellationToken);
                }

                var data = read.Buffer;
                if (!data.IsEmpty)
                {
                    Volatile.Write(ref _lastReceived, _time.GetTimestamp());
                }

                var step = Parse(ref data, buffer.Span, out var received);
                // What is left unparsed after a complete step is read again at once; after NeedMore, only new bytes.
                if (step == Step.NeedMore)
                {
                    _input.AdvanceTo(data.Start, data.End);
                }
                else
                {
                    _input.AdvanceTo(data.Start);
                }

                switch (step)
                {
                    case Step.Received:
                        return received;
                    case Step.Failed:
                        await FailAsync(_control.FailStatus, _control.FailReason!, cancellationToken).ConfigureAwait(false);
                        break;
                    case Step.Ping:
                        // Once the node has sent its close, nothing more goes out.
                        if (State == WebSocketState.Open)
                        {
                            await SendControlAsync(Opcode.Pong, _control.Payload.AsMemory(0, _control.Length), cancellationToken).ConfigureAwait(false);
                        }

                        continue;
                    case Step.Close:
                        return ReceivedClose();
                }

                if (read.IsCompleted)
                {
                    SetAborted();
                    throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "The client closed the connection without a close frame.");
                }
            }
        }
        catch (OperationCanceledException)
        {
            SetAborted();
            throw;
        }
    }

    public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken) =>
        SendAsync(buffer.AsMemory(), messageType, endOfMessage, cancellationToken).AsTask();

    public override ValueTask SendAsync(ReadOnlyMemory<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
    {
        if (messageType == WebSocketMessageType.Close)
        {
            throw new ArgumentException("Close frames are sent with CloseOutputAsync.", nameof(messageType));
        }

        var opcode = _sendingParts ? Opcode.Continuation : messageType == WebSocketMessageType.Text ? Opcode.Text : Opcode.Binary;
        _sendingParts = !endOfMessage;
        return WriteFrameAsync(opcode, buffer, endOfMessage, cancellationToken);
    }

    public override async Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        // A reason is cut to what a control frame holds, never inside a character.
        var reason = Encoding.UTF8.GetBytes(statusDescription ?? string.Empty);
        var length = Math.Min(reason.Length, MaxControlPayload - 2);
        while (length < reason.Length && (reason[length] & 0xC0) == 0x80)
        {
            length--;
        }

        var payload = new byte[2 + length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)closeStatus);
        reason.AsSpan(0, payload.Length - 2).CopyTo(payload.AsSpan(2));
        await SendControlAsync(Opcode.Close, payload, cancellationToken).ConfigureAwait(false);
    }

    public override async Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        await CloseOutputAsync(closeStatus, statusDescription, cancellationToken).ConfigureAwait(false);
        var scratch = new byte[256];
        while (State == WebSocketState.CloseSent)
        {
            await ReceiveAsync(scratch.AsMemory(), cancellationToken).ConfigureAwait(false);
        }
    }

    public override void Abort()
    {
        SetAborted();
        _input.CancelPendingRead();
        _output.CancelPendingFlush();
    }

    // The connection's pipes belong to the transport, which completes them when the connection ends.
    public override void Dispose() => SetAborted();

    private enum Step
    {
        NeedMore,
        Received,
        Ping,
        Close,
        Failed,
    }

    // Consumes what it can of the buffered bytes (slicing `data` past it): a data frame's payload into `buffer`, or
    // one control frame. NeedMore when a header or a control frame is not complete yet, or nothing fits.
    private Step Parse(ref ReadOnlySequence<byte> data, Span<byte> buffer, out ValueWebSocketReceiveResult received)
    {
        received = default;
        while (true)
        {
            if (!_inFrame)
            {
                var step = ReadHeader(data, out var header);
                if (step != Step.Received)
                {
                    return step;
                }

                var headerLength = header.HeaderLength;

                if (header.Opcode >= Opcode.Close)
                {
                    var frameLength = headerLength + (int)header.Length;
                    if (data.Length < frameLength)
                    {
                        return Step.NeedMore;
                    }

                    _control.Payload ??= new byte[MaxControlPayload];
                    _control.Length = (int)header.Length;
                    data.Slice(headerLength, _control.Length).CopyTo(_control.Payload);
                    Unmask(_control.Payload.AsSpan(0, _control.Length), header.Mask, 0);
                    data = data.Slice(frameLength);
                    switch (header.Opcode)
                    {
                        case Opcode.Ping:
                            return Step.Ping;
                        case Opcode.Pong:
                            continue;
                        default:
                            return ReadClose();
                    }
                }

                if (header.Opcode == Opcode.Continuation ? !_inMessage : _inMessage)
                {
                    return Fail(WebSocketCloseStatus.ProtocolError, _inMessage ? "a new message began before the last one ended" : "a continuation frame outside a message");
                }

                if (header.Opcode != Opcode.Continuation)
                {
                    _messageType = header.Opcode == Opcode.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
                    _inMessage = true;
                    _utf8 = default;
                }

                (_inFrame, _frameLeft, _frameIsFinal, _mask, _maskOffset) = (true, header.Length, header.IsFinal, header.Mask, 0);
                data = data.Slice(headerLength);
            }

            var count = (int)Math.Min(Math.Min(data.Length, buffer.Length), _frameLeft);
            if (count == 0 && _frameLeft > 0)
            {
                if (buffer.Length > 0)
                {
                    return Step.NeedMore;
                }

                received = new ValueWebSocketReceiveResult(0, _messageType, false);
                return Step.Received;
            }

            var payload = buffer[..count];
            data.Slice(0, count).CopyTo(payload);
            data = data.Slice(count);
            _maskOffset = Unmask(payload, _mask, _maskOffset);
            _frameLeft -= count;
            var endOfMessage = _frameLeft == 0 && _frameIsFinal;
            if (_frameLeft == 0)
            {
                _inFrame = false;
                _inMessage = !_frameIsFinal;
            }

            if (_messageType == WebSocketMessageType.Text && !_utf8.Validate(payload, endOfMessage))
            {
                return Fail(WebSocketCloseStatus.InvalidPayloadData, "a text message that is not UTF-8");
            }

            if (count > 0 || endOfMessage)
            {
                received = new ValueWebSocketReceiveResult(count, _messageType, endOfMessage);
                return Step.Received;
            }
        }
    }

    private Step ReadHeader(ReadOnlySequence<byte> data, out FrameHeader header)
    {
        header = default;
        Span<byte> head = stackalloc byte[14];
        if (data.Length < 2)
        {
            return Step.NeedMore;
        }

        data.Slice(0, Math.Min(data.Length, head.Length)).CopyTo(head);
        var opcode = (Opcode)(head[0] & 0x0F);
        var isFinal = (head[0] & Fin) != 0;
        var lengthCode = head[1] & 0x7F;
        var headerLength = 2 + (lengthCode == 126 ? 2 : lengthCode == 127 ? 8 : 0) + 4;
        if ((head[0] & ReservedBits) != 0)
        {
            return Fail(WebSocketCloseStatus.ProtocolError, "reserved bits set (no extension was negotiated)");
        }

        if (opcode is not (Opcode.Continuation or Opcode.Text or Opcode.Binary or Opcode.Close or Opcode.Ping or Opcode.Pong))
        {
            return Fail(WebSocketCloseStatus.ProtocolError, $"unknown opcode {(int)opcode}");
        }

        if ((head[1] & MaskBit) == 0)
        {
            return Fail(WebSocketCloseStatus.ProtocolError, "an unmasked frame from a client");
        }

        if (opcode >= Opcode.Close && (!isFinal || lengthCode > MaxControlPayload))
        {
            return Fail(WebSocketCloseStatus.ProtocolError, "a fragmented or oversize control frame");
        }

        if (data.Length < headerLength)
        {
            return Step.NeedMore;
        }

        long length = lengthCode switch
        {
            126 => BinaryPrimitives.ReadUInt16BigEndian(head[2..]),
            127 => (long)BinaryPrimitives.ReadUInt64BigEndian(head[2..]),
            _ => lengthCode,
        };
        if (length < 0)
        {
            return Fail(WebSocketCloseStatus.ProtocolError, "a payload length over 2^63");
        }

        header = new FrameHeader(opcode, isFinal, length, BinaryPrimitives.ReadUInt32LittleEndian(head[(headerLength - 4)..]), headerLength);
        return Step.Received;
    }

    private Step ReadClose()
    {
        var payload = _control.Payload.AsSpan(0, _control.Length);
        if (payload.Length == 1)
        {
            return Fail(WebSocketCloseStatus.ProtocolError, "a close frame with a one-byte payload");
        }

        if (payload.Length >= 2)
        {
            var code = BinaryPrimitives.ReadUInt16BigEndian(payload);
            if (!IsValidCloseCode(code))
            {
                return Fail(WebSocketCloseStatus.ProtocolError, $"close code {code} is not allowed");
            }

            if (!Utf8.IsValid(payload[2..]))
            {
                return Fail(WebSocketCloseStatus.InvalidPayloadData, "a close reason that is not UTF-8");
            }

            _closeStatus = (WebSocketCloseStatus)code;
            _closeDescription = Encoding.UTF8.GetString(payload[2..]);
        }
        else
        {
            _closeStatus = WebSocketCloseStatus.Empty;
            _closeDescription = string.Empty;
        }

        return Step.Close;
    }

    // RFC 6455 section 7.4: 1004-1006 and 1015 are never sent; 1016-2999 are reserved; 3000-4999 are for applications.
    private static bool IsValidCloseCode(int code) => code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    private Step Fail(WebSocketCloseStatus status, string reason)
    {
        (_control.FailStatus, _control.FailReason) = (status, reason);
        return Step.Failed;
    }

    private ValueWebSocketReceiveResult ReceivedClose()
    {
        // Open -> CloseReceived (the node answers with its own close); CloseSent -> Closed (the handshake is complete).
        Advance(WebSocketState.Open, WebSocketState.CloseReceived, WebSocketState.CloseSent, WebSocketState.Closed);
        return new ValueWebSocketReceiveResult(0, WebSocketMessageType.Close, true);
    }

    // The receiver and a writer may move the state at the same time (both closes cross): each move is atomic.
    private void Advance(WebSocketState from, WebSocketState to, WebSocketState orFrom, WebSocketState orTo)
    {
        if (Interlocked.CompareExchange(ref _state, (int)to, (int)from) != (int)from)
        {
            Interlocked.CompareExchange(ref _state, (int)orTo, (int)orFrom);
        }
    }

    private void SetAborted()
    {
        var state = Volatile.Read(ref _state);
        while (state != (int)WebSocketState.Closed && Interlocked.CompareExchange(ref _state, (int)WebSocketState.Aborted, state) is var seen && seen != state)
        {
            state = seen;
        }
    }

    private async Task FailAsync(WebSocketCloseStatus status, string reason, CancellationToken cancellationToken)
    {
        try
        {
            if (State == WebSocketState.Open)
            {
                await CloseOutputAsync(status, reason, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            SetAborted();
        }

        throw new WebSocketException(WebSocketError.Faulted, "WebSocket protocol error from the client: " + reason);
    }

    private ValueTask SendControlAsync(Opcode opcode, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        WriteFrameAsync(opcode, payload, isFinal: true, cancellationToken);

    private ValueTask WriteFrameAsync(Opcode opcode, ReadOnlyMemory<byte> payload, bool isFinal, CancellationToken cancellationToken)
    {
        if (!_writing.Wait(0, CancellationToken.None))
        {
            return WriteFrameAfterWaitAsync(opcode, payload, isFinal, cancellationToken);
        }

        WriteFrame(opcode, payload.Span, isFinal);
        return FlushAndReleaseAsync(cancellationToken);
    }

    private async ValueTask WriteFrameAfterWaitAsync(Opcode opcode, ReadOnlyMemory<byte> payload, bool isFinal, CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        WriteFrame(opcode, payload.Span, isFinal);
        await FlushAndReleaseAsync(cancellationToken).ConfigureAwait(false);
    }

    // Called holding the write lock: writes one whole frame into the output pipe. Releases the lock if it throws;
    // otherwise the flush that follows does.
    private void WriteFrame(Opcode opcode, ReadOnlySpan<byte> payload, bool isFinal)
    {
        try
        {
            EncodeFrame(opcode, payload, isFinal);
        }
        catch
        {
            _writing.Release();
            throw;
        }
    }

    private void EncodeFrame(Opcode opcode, ReadOnlySpan<byte> payload, bool isFinal)
    {
        var state = State;
        if (state is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            throw new WebSocketException(WebSocketError.InvalidState, $"Cannot send in state {state}.");
        }

        var headerLength = payload.Length <= 125 ? 2 : payload.Length <= ushort.MaxValue ? 4 : 10;
        var span = _output.GetSpan(headerLength + payload.Length);
        span[0] = (byte)((isFinal ? Fin : 0) | (byte)opcode);
        switch (headerLength)
        {
            case 2:
                span[1] = (byte)payload.Length;
                break;
            case 4:
                span[1] = 126;
                BinaryPrimitives.WriteUInt16BigEndian(span[2..], (ushort)payload.Length);
                break;
            default:
                span[1] = 127;
                BinaryPrimitives.WriteUInt64BigEndian(span[2..], (ulong)payload.Length);
                break;
        }

        payload.CopyTo(span[headerLength..]);
        _output.Advance(headerLength + payload.Length);
        if (opcode == Opcode.Close)
        {
            Advance(WebSocketState.Open, WebSocketState.CloseSent, WebSocketState.CloseReceived, WebSocketState.Closed);
        }
    }

    private ValueTask FlushAndReleaseAsync(CancellationToken cancellationToken)
    {
        ValueTask<FlushResult> flush;
        try
        {
            flush = _output.FlushAsync(cancellationToken);
        }
        catch
        {
            _writing.Release();
            throw;
        }

        if (!flush.IsCompletedSuccessfully)
        {
            return ReleaseAfterAsync(flush, cancellationToken);
        }

        _writing.Release();
        return flush.Result.IsCanceled ? ValueTask.FromException(new OperationCanceledException(cancellationToken)) : ValueTask.CompletedTask;
    }

    private async ValueTask ReleaseAfterAsync(ValueTask<FlushResult> flush, CancellationToken cancellationToken)
    {
        try
        {
            if ((await flush.ConfigureAwait(false)).IsCanceled)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
        finally
        {
            _writing.Release();
        }
    }

    // XORs `payload` with the 4-byte mask (as read little-endian off the wire), starting at `offset` into the mask;
    // returns the offset for the payload's continuation.
    internal static int Unmask(Span<byte> payload, uint mask, int offset)
    {
        var rotated = BitOperations.RotateRight(mask, offset * 8);
        var wide = ((ulong)rotated << 32) | rotated;
        var i = 0;
        for (; i + 8 <= payload.Length; i += 8)
        {
            var word = BinaryPrimitives.ReadUInt64LittleEndian(payload[i..]) ^ wide;
            BinaryPrimitives.WriteUInt64LittleEndian(payload[i..], word);
        }

        for (; i < payload.Length; i++)
        {
            payload[i] ^= (byte)(rotated >> (8 * (i & 3)));
        }

        return (offset + payload.Length) & 3;
    }

    // A frame's header as read off the wire; HeaderLength counts the mask.
    private readonly record struct FrameHeader(Opcode Opcode, bool IsFinal, long Length, uint Mask, int HeaderLength);

    // One control frame's payload (at most 125 bytes; allocated at the first), or why the client's frames were refused.
    private struct ControlFrame
    {
        public byte[]? Payload;
        public int Length;
        public WebSocketCloseStatus FailStatus;
        public string? FailReason;
    }

    // Checks a text message's UTF-8 piece by piece: a character split between two pieces is checked once complete.
    private struct Utf8Tail
    {
        private uint _carried;
        private int _count;
        private int _needed;

        public bool Validate(ReadOnlySpan<byte> piece, bool endOfMessage)
        {
            if (_count > 0)
            {
                Span<byte> joined = stackalloc byte[4];
                BinaryPrimitives.WriteUInt32LittleEndian(joined, _carried);
                var take = Math.Min(_needed - _count, piece.Length);
                piece[..take].CopyTo(joined[_count..]);
                piece = piece[take..];
                _count += take;
                if (_count < _needed)
                {
                    _carried = BinaryPrimitives.ReadUInt32LittleEndian(joined);
                    return !endOfMessage;
                }

                _count = 0;
                if (!Utf8.IsValid(joined[.._needed]))
                {
                    return false;
                }
            }

            // An incomplete sequence at the end (at most 3 bytes) waits for the next piece.
            var complete = piece.Length;
            for (var back = 1; back <= Math.Min(3, piece.Length); back++)
            {
                var b = piece[^back];
                if ((b & 0xC0) != 0x80)
                {
                    if (SequenceLength(b) > back)
                    {
                        complete = piece.Length - back;
                    }

                    break;
                }
            }

            if (!Utf8.IsValid(piece[..complete]))
            {
                return false;
            }

            var tail = piece[complete..];
            if (tail.IsEmpty)
            {
                return true;
            }

            Span<byte> carried = stackalloc byte[4];
            carried.Clear();
            tail.CopyTo(carried);
            (_carried, _count, _needed) = (BinaryPrimitives.ReadUInt32LittleEndian(carried), tail.Length, SequenceLength(tail[0]));
            return !endOfMessage;
        }

        private static int SequenceLength(byte lead) => lead switch
        {
            < 0x80 => 1,
            >= 0xF0 => 4,
            >= 0xE0 => 3,
            >= 0xC0 => 2,
            _ => 1,
        };
    }
}
