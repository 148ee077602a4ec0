using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Threading.Channels;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;
using Google.Protobuf;
using Polly;
using Polly.Retry;

namespace ChatNode.Client;

/// <summary>How a connection ended.</summary>
public sealed record CloseInfo(int? Code, string? Reason);

/// <summary>
/// Reference client for chat.v1. Keeps one connection to the node that owns its user: it follows redirects (passing
/// the redirect's ring epoch), tries its seed URLs in turn, and reconnects with jittered exponential backoff on
/// reconnect-range close codes and lost connections. It retries sends with the same client message id (so a retry
/// never duplicates a message), acknowledges pushes in batches (flushing what is gathered when disposed), and hands each
/// message and chat update to the application once (<see cref="IMessageDedupe"/>). Pushes arrive on
/// <see cref="Messages"/> and <see cref="ChatUpdates"/>. Thread-safe.
/// </summary>
public sealed partial class ChatClient : IAsyncDisposable
{
    // One HTTP client for blob uploads and downloads: presigned URLs carry their own credentials.
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromMinutes(5) };

    private readonly ChatClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<ServerFrame>> _pending = new();
    private readonly Channel<NewMessage> _messages = Channel.CreateUnbounded<NewMessage>();
    private readonly Channel<ChatUpdate> _updates = Channel.CreateUnbounded<ChatUpdate>();
    private readonly IMessageDedupe _dedupe;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private readonly TaskCompletionSource<CloseInfo> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ResiliencePipeline _sendRetry;
    private ClientWebSocket? _socket;
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<int> _replayed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextRequestId;
    private long _pushes;
    private long _duplicates;
    private int _connections;
    private int _redirectsFollowed;
    private volatile bool _disposing;
    private Task _run = Task.CompletedTask;

    private ChatClient(ChatClientOptions options)
    {
        _options = options;
        _time = options.TimeProvider;
        _dedupe = options.Dedupe ?? new SeqDedupe();
        _outbox = options.Outbox ?? new MemorySendOutbox();
        _acks = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        _sendRetry = new ResiliencePipelineBuilder { TimeProvider = _time }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(!_closed.Task.IsCompleted
                && args.Outcome.Exception is ChatConnectionException or ChatErrorException { IsRetryable: true }),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(50),
            MaxDelay = TimeSpan.FromSeconds(2),
            MaxRetryAttempts = int.MaxValue,
        }).Build();
        if (options.AllSeeds().Count == 0)
        {
            throw new ArgumentException("Set ChatClientOptions.Url or Seeds: the client needs a node to connect to.", nameof(options));
        }
    }

    /// <summary>New messages, each once (per <see cref="ChatClientOptions.Dedupe"/>).</summary>
    public ChannelReader<NewMessage> Messages => _messages.Reader;

    /// <summary>Chat updates, each once.</summary>
    public ChannelReader<ChatUpdate> ChatUpdates => _updates.Reader;

    /// <summary>The welcome frame of the current connection.</summary>
    public Welcome? Welcome { get; private set; }

    /// <summary>The URL of the node currently connected (after redirects).</summary>
    public Uri CurrentUrl => _route ?? _options.AllSeeds()[0];

    /// <summary>Pushes received, duplicates included.</summary>
    public long PushesReceived => Interlocked.Read(ref _pushes);

    /// <summary>Pushes dropped because the item was handed to the application already.</summary>
    public long DuplicatesDropped => Interlocked.Read(ref _duplicates);

    /// <summary>Connections made so far (1 after connect, more after reconnects).</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Redirects followed so far, at connects and handoffs.</summary>
    public int RedirectsFollowed => Volatile.Read(ref _redirectsFollowed);

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
            await client.ConnectRoundAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        client._run = client.RunAsync();
        client._ackLoop = client.AckLoopAsync();
        client._outboxLoop = client.OutboxLoopAsync();
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
    /// Sends a message: kept in the outbox (<see cref="ChatClientOptions.Outbox"/>) first, then retried on lost
    /// connections and retryable errors with the same client message id until the node answers or
    /// <see cref="ChatClientOptions.SendRetryBudget"/> runs out. SUCCESS means the message is durably stored, once.
    /// Throws <see cref="ChatErrorException"/> when the node refused it and <see cref="ChatConnectionException"/> when
    /// it was never applied: in both cases nothing was stored. Throws <see cref="SendOutcomeUnknownException"/> when
    /// it may have been stored: it stays in the outbox, is retried in the background and settles through
    /// <see cref="ChatClientOptions.OnSendSettled"/>.
    /// </summary>
    public Task<SendMessageResult> SendMessageAsync(string chatId, string text, string? clientMessageId = null, CancellationToken cancellationToken = default) =>
        SendMessageAsync(chatId, text, [], clientMessageId, cancellationToken);

    /// <summary>Sends a message with attachments uploaded by <see cref="UploadAttachmentAsync"/>; retried like any send.</summary>
    public async Task<SendMessageResult> SendMessageAsync(
        string chatId, string text, IEnumerable<Attachment> attachments, string? clientMessageId = null, CancellationToken cancellationToken = default)
    {
        var send = new PendingSend(clientMessageId ?? Guid.NewGuid().ToString("N"), chatId, text, [.. attachments], _time.GetUtcNow());
        if (!TryClaim(send.ClientMessageId))
        {
            throw new InvalidOperationException($"a send with client message id {send.ClientMessageId} is in progress");
        }

        try
        {
            await _outbox.SaveAsync(send, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _sending.TryRemove(send.ClientMessageId, out _);
            throw;
        }

        return await SendClaimedAsync(send, cancellationToken).ConfigureAwait(false);
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
        var grant = await GetAttachmentDownloadAsync(attachmentId, cancellationToken).ConfigureAwait(false);
        var bytes = await Http.GetByteArrayAsync(new Uri(grant.DownloadUrl), cancellationToken).ConfigureAwait(false);
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        return sha256 == grant.Attachment.Sha256 ? bytes : throw new InvalidDataException($"attachment {attachmentId} does not match its SHA-256");
    }

    /// <summary>A download URL of an attachment (valid for a few minutes) and what it is, for an app that fetches the bytes itself.</summary>
    public async Task<GetAttachmentDownloadResult> GetAttachmentDownloadAsync(string attachmentId, CancellationToken cancellationToken = default) =>
        (await RequestAsync(new ClientFrame { GetAttachmentDownload = new GetAttachmentDownload { AttachmentId = attachmentId } }, cancellationToken)
            .ConfigureAwait(false)).GetAttachmentDownloadResult;

    public Task<Chat> AddParticipantAsync(string chatId, string userId, CancellationToken cancellationToken = default) =>
        ModifyAsync(chatId, userId, ParticipantAction.Add, cancellationToken);

    public Task<Chat> RemoveParticipantAsync(string chatId, string userId, CancellationToken cancellationToken = default) =>
        ModifyAsync(chatId, userId, ParticipantAction.Remove, cancellationToken);

    /// <summary>Every chat of the user, oldest first: all pages of <c>listChats</c>.</summary>
    public async Task<IReadOnlyList<Chat>> ListChatsAsync(CancellationToken cancellationToken = default)
    {
        var chats = new List<Chat>();
        var after = "";
        do
        {
            var page = await ListChatsPageAsync(after, 0, cancellationToken).ConfigureAwait(false);
            chats.AddRange(page.Chats);
            after = page.Next;
        }
        while (after.Length > 0);

        return chats;
    }

    /// <summary>One page of <c>listChats</c>: up to <paramref name="limit"/> chats (0: the node's page size) after the cursor <paramref name="after"/>.</summary>
    public async Task<ListChatsResult> ListChatsPageAsync(string after = "", uint limit = 0, CancellationToken cancellationToken = default) =>
        (await RequestAsync(new ClientFrame { ListChats = new ListChats { After = after, Limit = limit } }, cancellationToken).ConfigureAwait(false)).ListChatsResult;

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
        var sent = false;
        try
        {
            await SendFrameAsync(socket, frame, cancellationToken).ConfigureAwait(false);
            sent = true;
            var reply = await result.Task.WaitAsync(_options.RequestTimeout, _time, cancellationToken).ConfigureAwait(false);
            return reply.BodyCase == ServerFrame.BodyOneofCase.Error ? throw new ChatErrorException(reply.Error.Code, reply.Error.Message, reply.Error.OutcomeUnknown) : reply;
        }
        catch (TimeoutException ex)
        {
            throw new ChatConnectionException("no result within the request timeout", ex, requestSent: true);
        }
        catch (ChatConnectionException ex) when (sent && !ex.RequestSent)
        {
            throw new ChatConnectionException(ex.Message, ex.InnerException, requestSent: true);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            throw new ChatConnectionException("the connection is gone", ex, requestSent: sent);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// Stops the client: no more pushes are handed to the application, the acknowledgements gathered so far are sent
    /// (so the next connection of this client is not pushed them again), then the connection closes.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposing)
        {
            return;
        }

        _disposing = true;
        await FlushAcksAsync().ConfigureAwait(false);
        await _disposed.CancelAsync().ConfigureAwait(false);
        if (_socket is { State: WebSocketState.Open } socket)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2), _time);
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        _socket?.Abort();
        await _run.ConfigureAwait(false);
        await _outboxLoop.ConfigureAwait(false);
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
}
