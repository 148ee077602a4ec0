using ChatNode.Auth;
using ChatNode.Connections;
using ChatNode.Delivery;
using ChatNode.Media;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Commands;

/// <summary>A request refused with a protocol error code; the message is shown to the client.</summary>
internal sealed class CommandException(ErrorCode code, string message) : Exception(message)
{
    public ErrorCode Code { get; } = code;
}

/// <summary>A request failed after it may have written (a send after its append): the client must retry it unchanged.</summary>
internal sealed class OutcomeUnknownException(Exception inner) : Exception(inner.Message, inner);

/// <summary>
/// Runs one client request and produces its single result or error frame. Store failures become
/// <see cref="ErrorCode.Unavailable"/> (safe to retry), anything unexpected <see cref="ErrorCode.Internal"/>;
/// neither affects other requests or connections. Thread-safe.
/// </summary>
public sealed partial class CommandDispatcher
{
    private readonly UserQuotas _quotas;
    private readonly AuthOptions _auth;
    private readonly IChatStore _chats;
    private readonly IMessageStore _messages;
    private readonly IInboxStore _inbox;
    private readonly IClientStore _clients;
    private readonly DeliveryService _delivery;
    private readonly ConnectionRegistry _registry;
    private readonly CommandOptions _options;
    private readonly CommandMetrics _metrics;
    private readonly DeliveryMetrics _deliveryMetrics;
    private readonly TimeProvider _time;
    private readonly ILogger<CommandDispatcher> _logger;
    private readonly MediaService _media;

    public CommandDispatcher(
        IChatStore chats,
        IMessageStore messages,
        IInboxStore inbox,
        IClientStore clients,
        DeliveryService delivery,
        ConnectionRegistry registry,
        IOptions<CommandOptions> options,
        CommandMetrics metrics,
        DeliveryMetrics deliveryMetrics,
        TimeProvider time,
        MediaService media,
        UserQuotas quotas,
        IOptions<AuthOptions> auth,
        ILogger<CommandDispatcher> logger)
    {
        _quotas = quotas;
        _auth = auth.Value;
        _media = media;
        _chats = chats;
        _messages = messages;
        _inbox = inbox;
        _clients = clients;
        _delivery = delivery;
        _registry = registry;
        _options = options.Value;
        _metrics = metrics;
        _deliveryMetrics = deliveryMetrics;
        _time = time;
        _logger = logger;
    }

    public async Task<ServerFrame> DispatchAsync(ClientConnection connection, ClientFrame request, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var command = request.CommandCase.ToString();
        ServerFrame result;
        string outcome;
        try
        {
            result = request.CommandCase switch
            {
                ClientFrame.CommandOneofCase.CreateChat => await CreateChatAsync(connection, request.CreateChat, cancellationToken).ConfigureAwait(false),
                ClientFrame.CommandOneofCase.SendMessage => await SendMessageAsync(connection, request.SendMessage, cancellationToken).ConfigureAwait(false),
                ClientFrame.CommandOneofCase.ModifyChatParticipants => await ModifyParticipantsAsync(connection, request.ModifyChatParticipants, cancellationToken).ConfigureAwait(false),
                ClientFrame.CommandOneofCase.ListChats => await ListChatsAsync(connection, request.ListChats, cancellationToken).ConfigureAwait(false),
                ClientFrame.CommandOneofCase.Ack => await AckAsync(connection, request.Ack, cancellationToken).ConfigureAwait(false),
                ClientFrame.CommandOneofCase.Ping => Frames.Pong(_time.GetUtcNow().ToUnixTimeMilliseconds()),
                ClientFrame.CommandOneofCase.DeactivateClient => await DeactivateClientAsync(connection, request.DeactivateClient, cancellationToken).ConfigureAwait(false),
                ClientFrame.CommandOneofCase.ListClients => await ListClientsAsync(connection, cancellationToken).ConfigureAwait(false),
                ClientFrame.CommandOneofCase.GetAttachmentUpload => new ServerFrame
                {
                    GetAttachmentUploadResult = await _media.GrantUploadAsync(connection.Address.UserId, request.GetAttachmentUpload, cancellationToken).ConfigureAwait(false),
                },
                ClientFrame.CommandOneofCase.GetAttachmentDownload => new ServerFrame
                {
                    GetAttachmentDownloadResult = await _media.GrantDownloadAsync(connection.Address.UserId, request.GetAttachmentDownload.AttachmentId, cancellationToken).ConfigureAwait(false),
                },
                _ => throw new CommandException(ErrorCode.UnknownCommand, "The frame carries no command this node knows."),
            };
            outcome = "ok";
        }
        catch (CommandException ex)
        {
            result = Frames.Error(ex.Code, ex.Message);
            outcome = ex.Code.ToString();
        }
        catch (MediaException ex)
        {
            result = Frames.Error(ex.Code, ex.Message);
            outcome = ex.Code.ToString();
        }
        catch (Exception ex) when (ex is OutcomeUnknownException or StoreUnavailableException { MayHaveWritten: true })
        {
            // The request may be applied (a message stored, even delivered): only a retry of this very request settles it.
            var cause = ex is OutcomeUnknownException ? ex.InnerException! : ex;
            var code = cause switch
            {
                StoreUnavailableException => ErrorCode.Unavailable,
                StoreFullException => ErrorCode.StoreFull,
                _ => ErrorCode.Internal,
            };
            LogFailure(command, cause);
            result = Frames.OutcomeUnknown(code, "The request may have been applied: retry it unchanged (the same clientMessageId) until it is answered; never resend it as a new one.");
            outcome = code.ToString();
        }
        catch (StoreUnavailableException ex)
        {
            CommandLog.StoreUnavailable(_logger, command, ex);
            result = Frames.Error(ErrorCode.Unavailable, "The store did not answer in time; nothing was applied. Retry the request unchanged.");
            outcome = "Unavailable";
        }
        catch (StoreFullException)
        {
            result = Frames.Error(ErrorCode.StoreFull, "The store is at its memory limit and takes no new data; nothing was applied. Reads and acks work; retry later.");
            outcome = "StoreFull";
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            CommandLog.RequestFailed(_logger, command, ex);
            result = Frames.Error(ErrorCode.Internal, "Internal error; retry the request unchanged.");
            outcome = "Internal";
        }

        result.RequestId = request.RequestId;
        _metrics.Request(command, outcome, _time.GetElapsedTime(started));
        return result;
    }

    private static CommandException BadRequest(string message) => new(ErrorCode.BadRequest, message);

    private void LogFailure(string command, Exception cause)
    {
        switch (cause)
        {
            case StoreUnavailableException unavailable:
                CommandLog.StoreUnavailable(_logger, command, unavailable);
                break;
            case StoreFullException:
                break;
            default:
                CommandLog.RequestFailed(_logger, command, cause);
                break;
        }
    }
}
