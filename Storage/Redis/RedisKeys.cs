using System.Globalization;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary>
/// Key layout. Everything of one chat shares the hash tag <c>{chatId}</c> (one slot, so scripts see it atomically);
/// everything of one user, including the inboxes of its clients, shares the tag <c>{userId}</c>.
/// Ids are validated by the node: they never contain braces or colons.
/// </summary>
internal static class RedisKeys
{
    public static RedisKey ChatMeta(string chatId) => "c:{" + chatId + "}";

    public static RedisKey ChatMembers(string chatId) => "c:{" + chatId + "}:p";

    public static string MessagePrefix(string chatId) => "c:{" + chatId + "}:m:";

    public static RedisKey Message(string chatId, long seq) => MessagePrefix(chatId) + seq.ToString(CultureInfo.InvariantCulture);

    public static string EventPrefix(string chatId) => "c:{" + chatId + "}:u:";

    public static RedisKey Event(string chatId, long version) => EventPrefix(chatId) + version.ToString(CultureInfo.InvariantCulture);

    public static RedisKey Dedupe(string chatId, string userId, string clientId, string clientMessageId) =>
        $"c:{{{chatId}}}:d:{userId}:{clientId}:{clientMessageId}";

    public static RedisKey UserChats(string userId) => "u:{" + userId + "}:ch";

    /// <summary>The user's registered clients. <see cref="RedisScripts.AddToUserInboxes"/> derives the inbox and acknowledged-ids keys from it (its last two characters replaced).</summary>
    public static RedisKey UserClients(string userId) => "u:{" + userId + "}:cl";

    public static RedisKey Inbox(ClientAddress client) => InboxPrefix(client.UserId) + client.ClientId;

    /// <summary>The user's inbox keys without the client id (<see cref="RedisScripts.AddToUserInboxes"/> builds the same from <see cref="UserClients"/>).</summary>
    public static string InboxPrefix(string userId) => "u:{" + userId + "}:i:";

    /// <summary>The user's acknowledged-ids keys without the client id.</summary>
    public static string AckedPrefix(string userId) => "u:{" + userId + "}:a:";

    /// <summary>The client's recently acknowledged delivery ids (sorted set scored by ack time, ms).</summary>
    public static RedisKey Acked(ClientAddress client) => AckedPrefix(client.UserId) + client.ClientId;

    /// <summary>When the client was deactivated (unix ms), kept as long as a token can live: older tokens are refused.</summary>
    public static RedisKey Deactivated(ClientAddress client) => "u:{" + client.UserId + "}:x:" + client.ClientId;
}
