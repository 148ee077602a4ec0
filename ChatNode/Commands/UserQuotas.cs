using System.Collections.Concurrent;
using ChatNode.Connections;
using Microsoft.Extensions.Options;

namespace ChatNode.Commands;

/// <summary>
/// Per-user send quotas: messages and text bytes per minute and per day, for all of a user's clients together. Kept in
/// memory on the node that owns the user (all of a user's connections are there), as token buckets that refill
/// continuously: a burst of up to a minute's quota is allowed, the sustained rate is the minute's quota spread over the
/// minute, and the day's quota bounds what one account can make the store keep (for recipients who never read, 30
/// days of it). A node restart or a move of the user to another node starts its buckets full again. Thread-safe.
/// </summary>
/// <remarks>
/// A bucket is refilled when it is used (from the time since its last use), so an idle user costs nothing; a user
/// whose buckets are all full again is the same as one never seen, and is dropped by a sweep made at most once a minute
/// by whichever call comes due. (A take racing with the sweep of its user may be forgotten: one message more, at most.)
/// </remarks>
public sealed class UserQuotas
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly CommandOptions _options;
    private long _nextSweep;

    public UserQuotas(IOptions<CommandOptions> options, TimeProvider time)
    {
        _time = time;
        _options = options.Value;
        _nextSweep = time.GetTimestamp() + SweepTicks(time);
    }

    /// <summary>Users with a bucket that is not known to be full.</summary>
    public int Tracked => _buckets.Count;

    /// <summary>Takes one message of <paramref name="bytes"/> from the user's quotas; false (and nothing taken) when any is spent.</summary>
    public bool TryTake(string userId, int bytes)
    {
        var now = _time.GetTimestamp();
        SweepIfDue(now);
        var bucket = _buckets.GetOrAdd(userId, static (_, state) => new Bucket(state.Self._options, state.Now, state.Self._time), (Self: this, Now: now));
        return bucket.TryTake(Math.Max(0, bytes), now);
    }

    private static long SweepTicks(TimeProvider time) => (long)(SweepInterval.TotalSeconds * time.TimestampFrequency);

    private void SweepIfDue(long now)
    {
        var due = Volatile.Read(ref _nextSweep);
        if (now < due || Interlocked.CompareExchange(ref _nextSweep, now + SweepTicks(_time), due) != due)
        {
            return;
        }

        foreach (var entry in _buckets)
        {
            if (entry.Value.IsFull(now))
            {
                _buckets.TryRemove(entry);
            }
        }
    }

    private sealed class Bucket
    {
        private const double SecondsPerDay = 24 * 3600;

        // [0] the minute's quota, [1] the day's.
        private readonly TokenBucket[] _messages;
        private readonly TokenBucket[] _bytes;
        private readonly object _gate = new();

        public Bucket(CommandOptions o, long now, TimeProvider time)
        {
            _messages = [new(o.UserMessagesPerMinute, o.UserMessagesPerMinute / 60.0, now, time), new(o.UserMessagesPerDay, o.UserMessagesPerDay / SecondsPerDay, now, time)];
            _bytes = [new(o.UserMessageBytesPerMinute, o.UserMessageBytesPerMinute / 60.0, now, time), new(o.UserMessageBytesPerDay, o.UserMessageBytesPerDay / SecondsPerDay, now, time)];
        }

        public bool IsFull(long now)
        {
            lock (_gate)
            {
                return _messages[0].IsFull(now) && _messages[1].IsFull(now) && _bytes[0].IsFull(now) && _bytes[1].IsFull(now);
            }
        }

        // All or none: a message refused by one quota takes nothing from the others. (No LINQ: this runs per send.)
        public bool TryTake(int bytes, long now)
        {
            lock (_gate)
            {
                if (!_messages[0].Has(1, now) || !_messages[1].Has(1, now) || !_bytes[0].Has(bytes, now) || !_bytes[1].Has(bytes, now))
                {
                    return false;
                }

                foreach (var bucket in _messages)
                {
                    bucket.TryTake(1, now);
                }

                foreach (var bucket in _bytes)
                {
                    bucket.TryTake(bytes, now);
                }

                return true;
            }
        }
    }
}
