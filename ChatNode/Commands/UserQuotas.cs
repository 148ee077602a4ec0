using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace ChatNode.Commands;

/// <summary>
/// Per-user send quotas: messages and text bytes per minute, for all of a user's clients together. Kept in memory on
/// the node that owns the user (all of a user's connections are there), as token buckets refilled every second, so a
/// burst of up to a minute's quota is allowed and the sustained rate is the quota spread over the minute. A node restart
/// or a move of the user to another node starts its buckets full again. Thread-safe.
/// </summary>
public sealed class UserQuotas : IDisposable
{
    private readonly PartitionedRateLimiter<string> _messages;
    private readonly PartitionedRateLimiter<string> _bytes;

    public UserQuotas(IOptions<CommandOptions> options)
    {
        var o = options.Value;
        _messages = PartitionedRateLimiter.Create<string, string>(user => RateLimitPartition.GetTokenBucketLimiter(user, _ => PerMinute(o.UserMessagesPerMinute)));
        _bytes = PartitionedRateLimiter.Create<string, string>(user => RateLimitPartition.GetTokenBucketLimiter(user, _ => PerMinute(o.UserMessageBytesPerMinute)));
    }

    /// <summary>Takes one message of <paramref name="bytes"/> from the user's quotas; false (and nothing taken from the message count) when either is spent.</summary>
    public bool TryTake(string userId, int bytes)
    {
        using var size = _bytes.AttemptAcquire(userId, Math.Max(0, bytes));
        if (!size.IsAcquired)
        {
            return false;
        }

        using var message = _messages.AttemptAcquire(userId);
        return message.IsAcquired;
    }

    public void Dispose()
    {
        _messages.Dispose();
        _bytes.Dispose();
    }

    private static TokenBucketRateLimiterOptions PerMinute(int perMinute) => new()
    {
        TokenLimit = perMinute,
        TokensPerPeriod = Math.Max(1, perMinute / 60),
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };
}
