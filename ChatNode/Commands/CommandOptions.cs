using ChatNode.Connections;
using Microsoft.Extensions.Options;

namespace ChatNode.Commands;

/// <summary>Product limits the commands enforce (configuration section <c>Node</c>).</summary>
public sealed class CommandOptions
{
    public const string Section = "Node";

    /// <summary>Participants a chat may have, creator included. Default 100.</summary>
    public int MaxParticipants { get; set; } = 100;

    /// <summary>Clients (devices) a user may have registered at once. Default 3.</summary>
    public int MaxClientsPerUser { get; set; } = 3;

    /// <summary>Largest message text, in UTF-8 bytes. Default 16 KiB.</summary>
    public int MaxTextBytes { get; set; } = 16 * 1024;

    /// <summary>Largest chat name, in characters. Default 128.</summary>
    public int MaxChatNameLength { get; set; } = 128;

    /// <summary>Delivery ids one ack may carry. Default 1,000.</summary>
    public int MaxAckBatch { get; set; } = 1000;

    /// <summary>Messages one user may send per minute, all its clients together (a bucket refilled every second). Default 600.</summary>
    public int UserMessagesPerMinute { get; set; } = 600;

    /// <summary>Message text bytes one user may send per minute, all its clients together. Default 8 MiB.</summary>
    public int UserMessageBytesPerMinute { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// Messages one user may send per day, all its clients together: with the bytes per day, what bounds the store's
    /// growth from one account sending to users who never read (everything stored lives 30 days). Default 20,000.
    /// </summary>
    public int UserMessagesPerDay { get; set; } = 20_000;

    /// <summary>Message text bytes one user may send per day, all its clients together. Default 64 MiB.</summary>
    public int UserMessageBytesPerDay { get; set; } = 64 * 1024 * 1024;

    /// <summary>Chats a user may be a participant of; a chat that would take a user past it is refused. Default 1,000.</summary>
    public int MaxChatsPerUser { get; set; } = 1000;
}

internal sealed class CommandOptionsValidator(IOptions<ConnectionOptions> connection) : IValidateOptions<CommandOptions>
{
    public ValidateOptionsResult Validate(string? name, CommandOptions o)
    {
        var failures = new List<string>();
        ConnectionOptionsValidator.Require(failures, o.MaxParticipants is >= 2 and <= 10_000, "Node:MaxParticipants must be between 2 and 10000.");
        ConnectionOptionsValidator.Require(failures, o.MaxClientsPerUser is >= 1 and <= 100, "Node:MaxClientsPerUser must be between 1 and 100.");
        ConnectionOptionsValidator.Require(failures, o.MaxTextBytes > 0 && o.MaxTextBytes < connection.Value.MaxFrameBytes, "Node:MaxTextBytes must be positive and below MaxFrameBytes.");
        ConnectionOptionsValidator.Require(failures, o.MaxChatNameLength >= 1, "Node:MaxChatNameLength must be positive.");
        ConnectionOptionsValidator.Require(failures, o.MaxAckBatch >= 1, "Node:MaxAckBatch must be positive.");
        ConnectionOptionsValidator.Require(failures, o.UserMessagesPerMinute >= 1 && o.UserMessageBytesPerMinute >= o.MaxTextBytes, "Node:UserMessagesPerMinute must be positive and UserMessageBytesPerMinute at least MaxTextBytes.");
        ConnectionOptionsValidator.Require(failures, o.UserMessagesPerDay >= 1 && o.UserMessageBytesPerDay >= o.MaxTextBytes, "Node:UserMessagesPerDay must be positive and UserMessageBytesPerDay at least MaxTextBytes.");
        ConnectionOptionsValidator.Require(failures, o.MaxChatsPerUser >= 1, "Node:MaxChatsPerUser must be positive.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
