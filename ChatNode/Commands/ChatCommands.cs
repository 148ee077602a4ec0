using System.Globalization;
using ChatNode.Auth;
using ChatNode.Connections;
using ChatNode.Delivery;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;
using ChatNode.Storage;

namespace ChatNode.Commands;

public sealed partial class CommandDispatcher
{
    private async Task<ServerFrame> CreateChatAsync(ClientConnection connection, CreateChat command, CancellationToken cancellationToken)
    {
        var creator = connection.Address.UserId;
        if (command.Name.Length > _options.MaxChatNameLength)
        {
            throw new CommandException(ErrorCode.TooLarge, $"A chat name has at most {_options.MaxChatNameLength} characters.");
        }

        if (!IsDisplayable(command.Name))
        {
            throw new CommandException(ErrorCode.BadRequest, "A chat name may not contain control characters, bidirectional overrides or invisible characters.");
        }

        // Linear, and refused as soon as the distinct count passes the limit: a frame can carry thousands of ids.
        var participants = new List<string> { creator };
        var seen = new HashSet<string>(StringComparer.Ordinal) { creator };
        foreach (var user in command.Participants)
        {
            if (!Ids.IsValidUserId(user))
            {
                throw BadRequest($"'{Truncate(user)}' is not a valid user id.");
            }

            if (seen.Add(user))
            {
                participants.Add(user);
                if (participants.Count > _options.MaxParticipants)
                {
                    throw new CommandException(ErrorCode.TooManyParticipants, $"A chat has at most {_options.MaxParticipants} participants, creator included.");
                }
            }
        }

        if (participants.Count < 2)
        {
            throw BadRequest("A chat needs at least one participant besides its creator.");
        }

        await RequireRoomForChatAsync(participants, cancellationToken).ConfigureAwait(false);
        var created = await _chats.CreateChatAsync(Ids.NewChatId(), command.Name, creator, participants, cancellationToken).ConfigureAwait(false);
        await PublishEventAsync(connection, created, created.Chat.Participants, cancellationToken).ConfigureAwait(false);
        return new ServerFrame { CreateChatResult = new CreateChatResult { Chat = PushFrames.ToChat(created.Chat) } };
    }

    private async Task<ServerFrame> ModifyParticipantsAsync(ClientConnection connection, ModifyChatParticipants command, CancellationToken cancellationToken)
    {
        RequireChatId(command.ChatId);
        if (!Ids.IsValidUserId(command.UserId))
        {
            throw BadRequest("userId must be a valid user id.");
        }

        if (command.Action is not (ParticipantAction.Add or ParticipantAction.Remove))
        {
            throw BadRequest("action must be ADD or REMOVE.");
        }

        var add = command.Action == ParticipantAction.Add;
        if (add)
        {
            await RequireRoomForChatAsync([command.UserId], cancellationToken).ConfigureAwait(false);
        }

        var (status, chatEvent) = await _chats.ModifyParticipantsAsync(
            command.ChatId, connection.Address.UserId, command.UserId, add, _options.MaxParticipants, cancellationToken).ConfigureAwait(false);
        switch (status)
        {
            case ChatWriteStatus.Ok:
                // A removed user gets the update that removed them, and nothing of the chat after it.
                var recipients = add ? chatEvent!.Chat.Participants : [.. chatEvent!.Chat.Participants, command.UserId];
                await PublishEventAsync(connection, chatEvent, recipients, cancellationToken).ConfigureAwait(false);
                return new ServerFrame { ModifyChatParticipantsResult = new ModifyChatParticipantsResult { Chat = PushFrames.ToChat(chatEvent.Chat) } };
            case ChatWriteStatus.NoChange:
                var chat = await _chats.GetChatAsync(command.ChatId, cancellationToken).ConfigureAwait(false)
                    ?? throw new CommandException(ErrorCode.NotFound, "No such chat.");
                return new ServerFrame { ModifyChatParticipantsResult = new ModifyChatParticipantsResult { Chat = PushFrames.ToChat(chat) } };
            default:
                throw Refused(status);
        }
    }

    /// <summary>The most chats one <c>listChatsResult</c> carries (and its default page size).</summary>
    public const int ListChatsPageLimit = 100;

    // One page, in (creation time, chat id) order; the cursor names the last chat of the previous page by both, so a
    // chat left or created meanwhile neither shifts nor repeats the pages.
    private async Task<ServerFrame> ListChatsAsync(ClientConnection connection, ListChats command, CancellationToken cancellationToken)
    {
        var limit = command.Limit is 0 or > ListChatsPageLimit ? ListChatsPageLimit : (int)command.Limit;
        (long CreatedAtUs, string ChatId)? after = null;
        if (command.After.Length > 0)
        {
            var dot = command.After.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0 || !long.TryParse(command.After.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var createdAtUs))
            {
                throw new CommandException(ErrorCode.BadRequest, "after must be the next cursor of an earlier listChatsResult.");
            }

            after = (createdAtUs, command.After[(dot + 1)..]);
        }

        var chats = await _chats.ListChatsAsync(connection.Address.UserId, cancellationToken).ConfigureAwait(false);
        var page = chats
            .Where(c => after is not { } cursor || c.CreatedAtUs > cursor.CreatedAtUs || (c.CreatedAtUs == cursor.CreatedAtUs && string.CompareOrdinal(c.ChatId, cursor.ChatId) > 0))
            .Order(ChatOrder.Instance)
            .Take(limit + 1)
            .ToList();
        var result = new ListChatsResult();
        result.Chats.Add(page.Take(limit).Select(PushFrames.ToChat));
        if (page.Count > limit)
        {
            var last = page[limit - 1];
            result.Next = string.Create(CultureInfo.InvariantCulture, $"{last.CreatedAtUs}.{last.ChatId}");
        }

        return new ServerFrame { ListChatsResult = result };
    }

    private sealed class ChatOrder : IComparer<ChatRecord>
    {
        public static readonly ChatOrder Instance = new();

        public int Compare(ChatRecord? x, ChatRecord? y) =>
            x!.CreatedAtUs != y!.CreatedAtUs ? x.CreatedAtUs.CompareTo(y.CreatedAtUs) : string.CompareOrdinal(x.ChatId, y.ChatId);
    }

    private async Task PublishEventAsync(ClientConnection connection, ChatEvent chatEvent, IReadOnlyList<string> recipients, CancellationToken cancellationToken)
    {
        await _delivery.FanOutAsync(recipients, connection.Address, new InboxEntry(chatEvent.DeliveryId, chatEvent.AtUs), cancellationToken).ConfigureAwait(false);
        _delivery.Push(recipients, connection.Address, PushFrames.ChatEvent(chatEvent), chatEvent.AtUs);
    }

    private static void RequireChatId(string chatId)
    {
        if (!Ids.IsValidChatId(chatId))
        {
            throw BadRequest("chatId must be a chat id returned by createChat.");
        }
    }

    // Refuses a chat that would take a user past Node:MaxChatsPerUser (a soft limit: two chats created at the same moment
    // may both pass). Nobody can be added to an unbounded number of chats, and listChats stays bounded.
    private async Task RequireRoomForChatAsync(IReadOnlyCollection<string> users, CancellationToken cancellationToken)
    {
        var counts = await _chats.CountChatsAsync(users, cancellationToken).ConfigureAwait(false);
        if (counts.FirstOrDefault(c => c.Value >= _options.MaxChatsPerUser) is { Key: { } user })
        {
            throw new CommandException(ErrorCode.TooManyChats, $"{Truncate(user)} is in {_options.MaxChatsPerUser} chats already, the most a user may be in.");
        }
    }

    private static CommandException Refused(ChatWriteStatus status) => status switch
    {
        ChatWriteStatus.ChatNotFound => new CommandException(ErrorCode.NotFound, "No such chat."),
        ChatWriteStatus.NotParticipant => new CommandException(ErrorCode.NotParticipant, "You are not a participant of this chat."),
        ChatWriteStatus.Forbidden => new CommandException(ErrorCode.Forbidden, "Only the chat's admin (its creator, or once the creator left the first participant in ordinal order) may remove other participants."),
        ChatWriteStatus.ChatFull => new CommandException(ErrorCode.TooManyParticipants, "The chat is at its participant limit."),
        _ => new CommandException(ErrorCode.Internal, $"Unexpected store status {status}."),
    };

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "...";

    // What a chat name may not carry: control characters (NUL, line breaks), the bidirectional controls that reorder
    // what others see, and invisible characters. Zero-width joiners stay allowed: emoji sequences and scripts need them.
    private static bool IsDisplayable(string name)
    {
        foreach (var c in name)
        {
            if (char.IsControl(c) || c is '\u200B' or '\u200E' or '\u200F' or '\u2060' or '\uFEFF' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069'))
            {
                return false;
            }
        }

        return true;
    }
}
