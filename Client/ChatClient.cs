using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;
using Google.Protobuf;

namespace ChatNode.Client;

/// <summary>How a connection ended.</summary>
public sealed record CloseInfo(int? Code, string? Reason);

/// <summary>
/// Reference client for chat.v1. Keeps one connection, follows redirects, reconnects with jittered exponential
/// backoff on reconnect-range close codes and lost connections, retries sends with the same client message id
/// (so a retry never duplicates a message), acknowledges pushes (batched) and drops duplicate pushes by message id.
/// Pushes arrive on <see cref="Messages"/> and <see cref="ChatUpdates"/>. Thread-safe.
/// </summary>
public sealed class ChatClient : IAsyncDisposable
{
    // One HTTP client for blob uploads and downloads: presigned URLs carry their own credentials.
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromMinutes(5) };

    private readonly ChatClientOptions _options;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<ServerFrame>> _pending = new();
    private readonly Channel<NewMessage> _messages = Channel.CreateUnbounded<NewMessage>();
    private readonly Channel<ChatUpdate> _updates = Channel.CreateUnbounded<ChatUpdate>();
    private readonly Channel<string> _acks = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly MessageDeduper _deduper;
    private readonly MessageDeduper _updateDeduper;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private readonly TaskCompletionSource<CloseInfo> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ClientWebSocket? _socket;
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<int> _replayed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Uri _url;
    private Uri? _redirect;
    private long _nextRequestId;
    private long _pushes;
    private long _duplicates;
    private int _connections;
    private Task _run = Task.CompletedTask;
    private Task _ackLoop = Task.CompletedTask;

    private ChatClient(ChatClientOptions options)
    {
        _options = options;
        _url = options.Url;
        _deduper = new MessageDeduper(options.DedupeCapacity);
        _updateDeduper = new MessageDeduper(options.DedupeCapacity);
    }

    /// <summary>New messages, each message id once.</summary>
    public ChannelReader<NewMessage> Messages => _messages.Reader;

    /// <summary>Chat updates, each once.</summary>
    public ChannelReader<ChatUpdate> ChatUpdates => _updates.Reader;

    /// <summary>The welcome frame of the current connection.</summary>
    public Welcome? Welcome { get; private set; }

    /// <summary>The URL of the node currently connected (after redirects).</summary>
    public Uri CurrentUrl => _url;

    /// <summary>Pushes received, duplicates included.</summary>
    public long PushesReceived => Interlocked.Read(ref _pushes);

    /// <summary>Pushes dropped because their message id was seen already.</summary>
    public long DuplicatesDropped => Interlocked.Read(ref _duplicates);

    /// <summary>Connections made so far (1 after connect, more after reconnects).</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The last connection's close, once the client stopped for good (terminal code, or reconnecting turned off).</summary>
    public Task<CloseInfo> Closed => _closed.Task;

    /// <summary>The last server error frame that answered no request (for example TOO_MANY_CLIENTS).</summary>
    public Error? LastConnectionError { get; private set; }

    /// <summary>Completes with the replayed count once the current connection's inbox replay has finished.</summary>
    public Task<int> InboxReplayed => _replayed.Task;

    public static async Task<ChatClient> ConnectAsync(ChatClientOptions options, CancellationToken cancellationToken = default)
    {
        var client = new ChatClient(options);
        try
        {
            await client.ConnectOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        client._run = client.RunAsync();
        client._ackLoop = client.AckLoopAsync();
        return client;
    }

    public async Task<Chat> CreateChatAsync(IEnumerable<string> participants, string name = "", CancellationToken cancellationToken = default)
    {
        var command = new CreateChat { Name = name };
        command.Participants.Add(participants);
        var result = await RequestAsync(new ClientFrame { CreateChat = command }, cancellationToken).ConfigureAwait(false);
        return result.CreateChatResult.Chat;
    }

    /// <summary>
    /// Sends a message; retries on lost connections and retryable errors with the same client message id until
    /// <see cref="ChatClientOptions.SendRetryBudget"/> runs out. SUCCESS means the message is durably stored.
    /// </summary>
    public Task<SendMessageResult> SendMessageAsync(string chatId, string text, string? clientMessageId = null, CancellationToken cancellationToken = default) =>
        SendMessageAsync(chatId, text, [], clientMessageId, cancellationToken);

    /// <summary>Sends a message with attachments uploaded by <see cref="UploadAttachmentAsync"/>; retried like any send.</summary>
    public async Task<SendMessageResult> SendMessageAsync(
        string chatId, string text, IEnumerable<Attachment> attachments, string? clientMessageId = null, CancellationToken cancellationToken = default)
    {
        var command = new SendMessage { ChatId = chatId, Text = text, ClientMessageId = clientMessageId ?? Guid.NewGuid().ToString("N") };
        command.Attachments.Add(attachments);
        var frame = new ClientFrame { SendMessage = command };
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(_options.SendRetryBudget);
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                return (await RequestAsync(frame.Clone(), budget.Token).ConfigureAwait(false)).SendMessageResult;
            }
            catch (Exception ex) when (ex is ChatConnectionException || ex is ChatErrorException { IsRetryable: true })
            {
                if (_closed.Task.IsCompleted)
                {
                    throw;
                }

                try
                {
                    await Task.Delay(Jitter(delay), budget.Token).ConfigureAwait(false);
                    delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
                    await _connected.Task.WaitAsync(budget.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new ChatConnectionException($"send not confirmed within {_options.SendRetryBudget}; last failure: {ex.Message}", ex);
                }
            }
            catch (OperationCanceledException) when (budget.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new ChatConnectionException($"send not confirmed within {_options.SendRetryBudget}");
            }
        }
    }

    /// <summary>
    /// Uploads an attachment straight to blob storage: asks the node for an upload URL, PUTs the bytes there, and
    /// returns the attachment to name in <see cref="SendMessageAsync(string, string, IEnumerable{Attachment}, string?, CancellationToken)"/>.
    /// </summary>
    public async Task<Attachment> UploadAttachmentAsync(ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken = default)
    {
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content.Span));
        var grant = (await RequestAsync(new ClientFrame
        {
            GetAttachmentUpload = new GetAttachmentUpload { ContentType = contentType, Size = (ulong)content.Length, Sha256 = sha256 },
        }, cancellationToken).ConfigureAwait(false)).GetAttachmentUploadResult;
        using var body = new ReadOnlyMemoryContent(content);
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        using var response = await Http.PutAsync(new Uri(grant.UploadUrl), body, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return new Attachment { AttachmentId = grant.AttachmentId, ContentType = contentType, Size = (ulong)content.Length, Sha256 = sha256 };
    }

    /// <summary>Downloads an attachment of a message: asks the node for a download URL and GETs the bytes, checking their SHA-256.</summary>
    public async Task<byte[]> DownloadAttachmentAsync(string attachmentId, CancellationToken cancellationToken = default)
    {
        var grant = (await RequestAsync(new ClientFrame { GetAttachmentDownload = new GetAttachmentDownload { AttachmentId = attachmentId } }, cancellationToken)
            .ConfigureAwait(false)).GetAttachmentDownloadResult;
        var bytes = await Http.GetByteArrayAsync(new Uri(grant.DownloadUrl), cancellationToken).ConfigureAwait(false);
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        return sha256 == grant.Attachment.Sha256 ? bytes : throw new InvalidDataException($"attachment {attachmentId} does not match its SHA-256");
    }

    public Task<Chat> AddParticipantAsync(string chatId, string userId, CancellationToken cancellationToken = default) =>
        ModifyAsync(chatId, userId, ParticipantAction.Add, cancellationToken);

    public Task<Chat> RemoveParticipantAsync(string chatId, string userId, CancellationToken cancellationToken = default) =>
        ModifyAsync(chatId, userId, ParticipantAction.Remove, cancellationToken);

    public async Task<IReadOnlyList<Chat>> ListChatsAsync(CancellationToken cancellationToken = default) =>
        (await RequestAsync(new ClientFrame { ListChats = new ListChats() }, cancellationToken).ConfigureAwait(false)).ListChatsResult.Chats;

    public async Task<IReadOnlyList<ClientInfo>> ListClientsAsync(CancellationToken cancellationToken = default) =>
        (await RequestAsync(new ClientFrame { ListClients = new ListClients() }, cancellationToken).ConfigureAwait(false)).ListClientsResult.Clients;

    public Task DeactivateClientAsync(string clientId, CancellationToken cancellationToken = default) =>
        RequestAsync(new ClientFrame { DeactivateClient = new DeactivateClient { ClientId = clientId } }, cancellationToken);

    /// <summary>Acknowledges pushes explicitly (with <see cref="ChatClientOptions.AutoAck"/> off).</summary>
    public async Task<uint> AckAsync(IEnumerable<string> deliveryIds, CancellationToken cancellationToken = default)
    {
        var ack = new Ack();
        ack.DeliveryIds.Add(deliveryIds);
        return (await RequestAsync(new ClientFrame { Ack = ack }, cancellationToken).ConfigureAwait(false)).AckResult.Acknowledged;
    }

    public async Task<long> PingAsync(CancellationToken cancellationToken = default) =>
        (await RequestAsync(new ClientFrame { Ping = new Ping() }, cancellationToken).ConfigureAwait(false)).Pong.ServerTimeUnixMs;

    /// <summary>Sends one request and returns its result; an error frame throws <see cref="ChatErrorException"/>.</summary>
    public async Task<ServerFrame> RequestAsync(ClientFrame frame, CancellationToken cancellationToken = default)
    {
        var socket = _socket ?? throw new ChatConnectionException("not connected");
        var id = (ulong)Interlocked.Increment(ref _nextRequestId);
        frame.RequestId = id;
        var result = new TaskCompletionSource<ServerFrame>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = result;
        try
        {
            await SendFrameAsync(socket, frame, cancellationToken).ConfigureAwait(false);
            var reply = await result.Task.WaitAsync(_options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            return reply.BodyCase == ServerFrame.BodyOneofCase.Error ? throw new ChatErrorException(reply.Error.Code, reply.Error.Message) : reply;
        }
        catch (TimeoutException ex)
        {
            throw new ChatConnectionException("no result within the request timeout", ex);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            throw new ChatConnectionException("the connection is gone", ex);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        _disposed.Cancel();
        if (_socket is { State: WebSocketState.Open } socket)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        _socket?.Abort();
        _acks.Writer.TryComplete();
        await Task.WhenAll(_run, _ackLoop).ConfigureAwait(false);
        _socket?.Dispose();
        _closed.TrySetResult(new CloseInfo((int?)WebSocketCloseStatus.NormalClosure, "disposed"));
        _messages.Writer.TryComplete();
        _updates.Writer.TryComplete();
        _sendLock.Dispose();
        _disposed.Dispose();
    }

    private async Task<Chat> ModifyAsync(string chatId, string userId, ParticipantAction action, CancellationToken cancellationToken)
    {
        var command = new ModifyChatParticipants { ChatId = chatId, UserId = userId, Action = action };
        var result = await RequestAsync(new ClientFrame { ModifyChatParticipants = command }, cancellationToken).ConfigureAwait(false);
        return result.ModifyChatParticipantsResult.Chat;
    }

    /// <summary>
    /// Connects to the cached route (the seed URL at first), following up to <see cref="ChatClientOptions.MaxRedirects"/>
    /// redirects: a node that does not own the user answers the upgrade with a redirect frame and close 4000.
    /// Returns once a node welcomed the client; the URL that did is cached for reconnects.
    /// </summary>
    private async Task ConnectOnceAsync(CancellationToken cancellationToken)
    {
        for (var hop = 0; ; hop++)
        {
            var socket = new ClientWebSocket();
            socket.Options.AddSubProtocol(_options.Encoding == ChatEncoding.Proto ? ChatProtocol.ProtoSubprotocol : ChatProtocol.JsonSubprotocol);
            socket.Options.SetRequestHeader("Authorization", "Bearer " + await _options.TokenProvider(cancellationToken).ConfigureAwait(false));
            socket.Options.CollectHttpResponseDetails = true;
            socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
            ServerFrame? first;
            try
            {
                await socket.ConnectAsync(_url, cancellationToken).ConfigureAwait(false);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.RequestTimeout);
                first = await ReceiveFrameAsync(socket, new ArrayBufferWriter<byte>(1024), timeout.Token).ConfigureAwait(false);
            }
            catch (WebSocketException ex)
            {
                var status = socket.HttpStatusCode;
                socket.Dispose();
                if (status == HttpStatusCode.Unauthorized)
                {
                    throw new ChatConnectionException($"the node refused the token (401) at {_url}", ex);
                }

                throw new ChatConnectionException($"could not connect to {_url}: {(status == 0 ? ex.Message : status)}", ex);
            }
            catch (Exception ex) when (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new ChatConnectionException($"no welcome from {_url} within the request timeout", ex);
            }

            if (first?.BodyCase == ServerFrame.BodyOneofCase.Redirect && Uri.TryCreate(first.Redirect.Url, UriKind.Absolute, out var next))
            {
                socket.Abort();
                socket.Dispose();
                if (hop >= _options.MaxRedirects)
                {
                    throw new ChatConnectionException($"more than {_options.MaxRedirects} redirects (last to {next})");
                }

                _url = next;
                continue;
            }

            if (first is null)
            {
                var close = new CloseInfo((int?)socket.CloseStatus, socket.CloseStatusDescription);
                socket.Dispose();
                throw new ChatConnectionException($"{_url} closed the connection at once ({close.Code}: {close.Reason})");
            }

            _replayed = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            Welcome = null;
            _socket = socket;
            Handle(first);
            Interlocked.Increment(ref _connections);
            _connected.TrySetResult();
            return;
        }
    }

    private async Task RunAsync()
    {
        var delay = _options.ReconnectMinDelay;
        var redirects = 0;
        while (!_disposed.IsCancellationRequested)
        {
            var close = await ReceiveLoopAsync(_socket!).ConfigureAwait(false);
            if (Welcome is not null)
            {
                redirects = 0;
            }

            _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new ChatConnectionException("the connection closed before the result arrived"));
            }

            if (_disposed.IsCancellationRequested)
            {
                break;
            }

            var redirect = Interlocked.Exchange(ref _redirect, null);
            var terminal = close.Code is >= 4100 and < 4200;
            if (terminal || !_options.AutoReconnect)
            {
                _closed.TrySetResult(close);
                break;
            }

            if (redirect is not null && ++redirects <= _options.MaxRedirects)
            {
                _url = redirect;
            }
            else
            {
                await DelayAsync(delay).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, _options.ReconnectMaxDelay.TotalMilliseconds));
            }

            while (!_disposed.IsCancellationRequested)
            {
                try
                {
                    _socket?.Dispose();
                    await ConnectOnceAsync(_disposed.Token).ConfigureAwait(false);
                    delay = _options.ReconnectMinDelay;
                    break;
                }
                catch (Exception ex) when (ex is ChatConnectionException or OperationCanceledException)
                {
                    _url = _options.Url;
                    await DelayAsync(delay).ConfigureAwait(false);
                    delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, _options.ReconnectMaxDelay.TotalMilliseconds));
                }
            }
        }

        _closed.TrySetResult(new CloseInfo(null, "client disposed"));
    }

    private async Task<CloseInfo> ReceiveLoopAsync(ClientWebSocket socket)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (await ReceiveFrameAsync(socket, buffer, _disposed.Token).ConfigureAwait(false) is { } frame)
            {
                Handle(frame);
            }

            if (socket.State == WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token).ConfigureAwait(false);
            }

            return new CloseInfo((int?)socket.CloseStatus, socket.CloseStatusDescription);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or InvalidProtocolBufferException or InvalidJsonException)
        {
            return new CloseInfo(null, ex.Message);
        }
    }

    /// <summary>The next frame, or null when the node closed the connection.</summary>
    private async Task<ServerFrame?> ReceiveFrameAsync(ClientWebSocket socket, ArrayBufferWriter<byte> buffer, CancellationToken cancellationToken)
    {
        buffer.ResetWrittenCount();
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.GetMemory(4096), cancellationToken).ConfigureAwait(false);
            buffer.Advance(result.Count);
        }
        while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

        return result.MessageType == WebSocketMessageType.Close ? null : Decode(buffer.WrittenSpan);
    }

    private ServerFrame Decode(ReadOnlySpan<byte> payload) => _options.Encoding == ChatEncoding.Proto
        ? ServerFrame.Parser.ParseFrom(payload)
        : ChatProtocol.ParseServerFrameJson(payload);

    private void Handle(ServerFrame frame)
    {
        if (frame.RequestId != 0)
        {
            if (_pending.TryGetValue(frame.RequestId, out var pending))
            {
                pending.TrySetResult(frame);
            }

            return;
        }

        switch (frame.BodyCase)
        {
            case ServerFrame.BodyOneofCase.NewMessage:
                Interlocked.Increment(ref _pushes);
                if (_deduper.TryAdd(frame.NewMessage.MessageId))
                {
                    _messages.Writer.TryWrite(frame.NewMessage);
                }
                else
                {
                    Interlocked.Increment(ref _duplicates);
                }

                AutoAck(frame.NewMessage.DeliveryId);
                break;
            case ServerFrame.BodyOneofCase.ChatUpdate:
                Interlocked.Increment(ref _pushes);
                if (_updateDeduper.TryAdd(frame.ChatUpdate.DeliveryId))
                {
                    _updates.Writer.TryWrite(frame.ChatUpdate);
                }

                AutoAck(frame.ChatUpdate.DeliveryId);
                break;
            case ServerFrame.BodyOneofCase.Welcome:
                Welcome = frame.Welcome;
                break;
            case ServerFrame.BodyOneofCase.InboxReplayed:
                _replayed.TrySetResult((int)frame.InboxReplayed.Count);
                break;
            case ServerFrame.BodyOneofCase.Redirect:
                _redirect = Uri.TryCreate(frame.Redirect.Url, UriKind.Absolute, out var url) ? url : null;
                break;
            case ServerFrame.BodyOneofCase.Error:
                LastConnectionError = frame.Error;
                break;
        }
    }

    private void AutoAck(string deliveryId)
    {
        if (_options.AutoAck)
        {
            _acks.Writer.TryWrite(deliveryId);
        }
    }

    // Batches acknowledgements: one ack frame for everything that arrived while the previous one was in flight.
    private async Task AckLoopAsync()
    {
        var batch = new List<string>(512);
        try
        {
            while (await _acks.Reader.WaitToReadAsync(_disposed.Token).ConfigureAwait(false))
            {
                if (_options.AckDelay > TimeSpan.Zero)
                {
                    await Task.Delay(_options.AckDelay, _disposed.Token).ConfigureAwait(false);
                }

                while (batch.Count < 500 && _acks.Reader.TryRead(out var id))
                {
                    batch.Add(id);
                }

                try
                {
                    await AckAsync(batch, _disposed.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is ChatConnectionException or ChatErrorException)
                {
                    // Unacknowledged pushes are redelivered and deduplicated; nothing to do.
                }

                batch.Clear();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SendFrameAsync(ClientWebSocket socket, ClientFrame frame, CancellationToken cancellationToken)
    {
        var bytes = _options.Encoding == ChatEncoding.Proto ? frame.ToByteArray() : ChatProtocol.ToJsonBytes(frame);
        var type = _options.Encoding == ChatEncoding.Proto ? WebSocketMessageType.Binary : WebSocketMessageType.Text;
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await socket.SendAsync(bytes, type, true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task DelayAsync(TimeSpan delay)
    {
        try
        {
            await Task.Delay(Jitter(delay), _disposed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    // Full jitter between half and all of the delay, so reconnecting clients spread out.
    private static TimeSpan Jitter(TimeSpan delay) => TimeSpan.FromMilliseconds(delay.TotalMilliseconds * (0.5 + (Random.Shared.NextDouble() / 2)));
}
