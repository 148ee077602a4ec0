using ChatNode.Protocol.Store;
using ChatNode.Protocol.V1;
using ChatNode.Storage;

namespace ChatNode.Protocol;

/// <summary>Builds push frames from stored items; one frame serves every recipient (delivery ids are shared).</summary>
public static class PushFrames
{
    public static OutboundFrame Message(StoredMessage message) =>
        Message(message, MessageBody.Parser.ParseFrom(message.Body.Span), message.DeliveryId);

    /// <summary>The push of a message whose body the caller holds already (the sender's, just stored): not parsed again.</summary>
    public static OutboundFrame Message(StoredMessage message, MessageBody body, string deliveryId)
    {
        var push = new NewMessage
        {
            DeliveryId = deliveryId,
            ChatId = message.ChatId,
            MessageId = message.MessageId,
            Seq = (ulong)message.Seq,
            SenderUserId = message.SenderUserId,
            SenderClientId = message.SenderClientId,
            Text = body.Text,
            SentAtUnixMs = message.SentAtUs / 1000,
        };
        push.Attachments.Add(body.Attachments);
        return new OutboundFrame(new ServerFrame { NewMessage = push }, push.DeliveryId);
    }

    public static OutboundFrame ChatEvent(ChatEvent chatEvent)
    {
        var push = new ChatUpdate
        {
            DeliveryId = chatEvent.DeliveryId,
            Chat = ToChat(chatEvent.Chat),
            Kind = chatEvent.Kind switch
            {
                ChatEventKind.Created => ChatUpdateKind.Created,
                ChatEventKind.ParticipantAdded => ChatUpdateKind.ParticipantAdded,
                ChatEventKind.ParticipantRemoved => ChatUpdateKind.ParticipantRemoved,
                _ => ChatUpdateKind.Unspecified,
            },
            ActorUserId = chatEvent.ActorUserId,
            TargetUserId = chatEvent.TargetUserId,
            UpdatedAtUnixMs = chatEvent.AtUs / 1000,
        };
        return new OutboundFrame(new ServerFrame { ChatUpdate = push }, push.DeliveryId);
    }

    public static Chat ToChat(ChatRecord chat)
    {
        var result = new Chat
        {
            ChatId = chat.ChatId,
            Name = chat.Name,
            CreatedBy = chat.CreatedBy,
            Version = (ulong)chat.Version,
            CreatedAtUnixMs = chat.CreatedAtUs / 1000,
        };
        result.Participants.Add(chat.Participants);
        return result;
    }
}
