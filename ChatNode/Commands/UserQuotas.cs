using System.Collections.Concurrent;
using ChatNode.Connections;
using Microsoft.Extensions.Options;

namespace ChatNode.Commands;

/// <summary>
/// Per-user send quotas: messages and text bytes per minute, for all of a user's clients together. Kept in memory on
/// the node that owns the user (all of a user's connections are there), as token buckets that refill continuously, so a
/// burst of up to a minute's quota is allowed and the sustained rate is the quota spread over the minute. A node restart
/// or a move of the user to another node starts its buckets full again. Thread-safe.
/// </summary>
/// <remarks>
/// A bucket is refilled when it is used (from the time since its last use), so an idle user costs nothing; a bucket
/// unused for a minute is full, the same as no bucket, and is dropped by a sweep made at most once a minute by whichever
/// call comes due. (A take racing with the sweep of its bucket may be forgotten: one message more, at most, for a user
/// idle a minute.)
/// </remarks>
public sealed class UserQuotas
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly double _messages;
    private readonly double _bytes;
    private long _nextSweep;

    public UserQuotas(IOptions<CommandOptions> options, TimeProvider time)
    {
        _time = time;
        _messages = options.Value.UserMessagesPerMinute;
        _bytes = options.Value.UserMessageBytesPerMinute;
        _nextSweep = time.GetTimestamp() + WindowTicks(time);
    }

    /// <summary>Users with a bucket that is not known to be full.</summary>
    public int Tracked => _buckets.Count;

    /// <summary>Takes one message of <paramref name="bytes"/> from the user's quotas; false (and nothing taken) when either is spent.</summary>
    public bool TryTake(string userId, int bytes)
    {
        var now = _time.GetTimestamp();
        SweepIfDue(now);
        var bucket = _buckets.GetOrAdd(userId, static (_, self) => new Bucket(self._messages, self._bytes, self._time.GetTimestamp(), self._time), this);
        return bucket.TryTake(Math.Max(0, bytes), now);
    }

    private static long WindowTicks(TimeProvider time) => (long)(Window.TotalSeconds * time.TimestampFrequency);

    private void SweepIfDue(long now)
    {
        var due = Volatile.Read(ref _nextSweep);
        if (now < due || Interlocked.CompareExchange(ref _nextSweep, now + WindowTicks(_time), due) != due)
        {
            return;
        }

        var idleSince = now - WindowTicks(_time);
        foreach (var entry in _buckets)
        {
            if (entry.Value.LastUsed <= idleSince)
            {
                _buckets.TryRemove(entry);
            }
        }
    }

    private sealed class Bucket(double messages, double bytes, long now, TimeProvider time)
    {
        private readonly TokenBucket _messages = new(messages, messages / 60, now, time);
        private readonly TokenBucket _bytes = new(bytes, bytes / 60, now, time);
        private readonly object _gate = new();
        private long _lastUsed = now;

        public long LastUsed => Volatile.Read(ref _lastUsed);

        // Both or neither: a message refused for its bytes takes no message, and the reverse.
        public bool TryTake(int bytes, long now)
        {
            lock (_gate)
            {
                Volatile.Write(ref _lastUsed, Math.Max(_lastUsed, now));
                return _messages.Has(1, now) && _bytes.TryTake(bytes, now) && _messages.TryTake(1, now);
            }
        }
    }
}
