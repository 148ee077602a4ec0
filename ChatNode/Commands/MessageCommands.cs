using System.Text;
using ChatNode.Auth;
using ChatNode.Connections;
using ChatNode.Delivery;
using ChatNode.Diagnostics;
using ChatNode.Protocol;
using ChatNode.Protocol.Store;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using Google.Protobuf;

namespace ChatNode.Commands;

public sealed partial class CommandDispatcher
{
    private async Task<ServerFrame> SendMessageAsync(ClientConnection connection, SendMessage command, CancellationToken cancellationToken)
    {
        RequireChatId(command.ChatId);
        if (!Ids.IsValidClientMessageId(command.ClientMessageId))
        {
            throw BadRequest($"clientMessageId must be 1-{Ids.MaxClientMessageIdLength} printable ASCII characters.");
        }

        var textBytes = Encoding.UTF8.GetByteCount(command.Text);
        if (textBytes > _options.MaxTextBytes)
        {
            throw new CommandException(ErrorCode.TooLarge, $"A message text has at most {_options.MaxTextBytes} UTF-8 bytes.");
        }

        if (command.Text.Length == 0 && command.Attachments.Count == 0)
        {
            throw BadRequest("A message needs text or attachments.");
        }

        // Over quota, only a retry of a message already stored goes through (it may be completing an unknown outcome).
        var overQuota = !_quotas.TryTake(connection.Address.UserId, textBytes);

        using var span = Telemetry.Source.StartActivity("chat.send");
        span?.SetTag("chat.id", command.ChatId);

        // Attachments are checked before anything is stored: a refused message leaves no trace.
        var attachments = await _media.ValidateForSendAsync(connection.Address.UserId, command.Attachments, cancellationToken).ConfigureAwait(false);
        var body = new MessageBody { Text = command.Text };
        body.Attachments.Add(attachments);
        var draft = new MessageDraft(
            command.ChatId, Ids.NewMessageId(), connection.Address.UserId, connection.Address.ClientId, command.ClientMessageId, body.ToByteArray(), overQuota);
        // From the append on, a failure may leave the message stored (and even delivered): its outcome is unknown to
        // the client, which must retry with the same clientMessageId. Only a refusal (or the store refusing the append
        // for memory, which writes nothing) is a definite answer.
        AppendResult appended;
        try
        {
            using (Telemetry.Source.StartActivity("store.append"))
            {
                appended = await _messages.AppendAsync(draft, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not (StoreFullException or OperationCanceledException))
        {
            throw new OutcomeUnknownException(ex);
        }

        if (appended.Status == ChatWriteStatus.NotStored)
        {
            throw new CommandException(
                ErrorCode.QuotaExceeded,
                $"At most {_options.UserMessagesPerMinute} messages and {_options.UserMessageBytesPerMinute / 1024} KiB of text a minute, "
                + $"{_options.UserMessagesPerDay} messages and {_options.UserMessageBytesPerDay / 1048576} MiB a day, per user; nothing was stored. Send again later.");
        }

        if (appended.Status != ChatWriteStatus.Ok)
        {
            throw Refused(appended.Status);
        }

        var message = appended.Message!;
        span?.SetTag("message.id", message.MessageId);
        span?.SetTag("message.seq", message.Seq);
        span?.SetTag("message.duplicate", appended.Duplicate);
        if (!appended.Duplicate || !appended.FannedOut)
        {
            try
            {
                await _media.LinkAsync(attachments, command.ChatId, cancellationToken).ConfigureAwait(false);
                // SUCCESS only after every recipient inbox holds the message: then delivery no longer depends on this node.
                var deliveryId = message.DeliveryId;
                await _delivery.FanOutAsync(appended.Participants, connection.Address, new InboxEntry(deliveryId, message.SentAtUs), cancellationToken)
                    .ConfigureAwait(false);
                // A duplicate's stored body is the original send's, which this retry need not repeat word for word.
                var push = appended.Duplicate ? PushFrames.Message(message) : PushFrames.Message(message, body, deliveryId);
                _delivery.Push(appended.Participants, connection.Address, push, message.SentAtUs);
                await _messages.MarkFannedOutAsync(draft, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new OutcomeUnknownException(ex);
            }

            if (!appended.Duplicate)
            {
                _metrics.MessageStored();
            }
        }

        return new ServerFrame
        {
            SendMessageResult = new SendMessageResult
            {
                MessageId = message.MessageId,
                Seq = (ulong)message.Seq,
                SentAtUnixMs = message.SentAtUs / 1000,
                Duplicate = appended.Duplicate,
            },
        };
    }
}
