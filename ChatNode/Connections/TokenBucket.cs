namespace ChatNode.Connections;

/// <summary>
/// A token bucket refilled continuously from the clock's timestamps when it is used: up to <c>capacity</c> tokens, at
/// <c>perSecond</c> a second. No timer, no shared state, so an idle bucket costs nothing. Not thread-safe: one owner
/// (a connection's receive loop) or a lock around it.
/// </summary>
public sealed class TokenBucket
{
    private readonly double _capacity;
    private readonly double _perTick;
    private double _tokens;
    private long _refilledAt;

    public TokenBucket(double capacity, double perSecond, long now, TimeProvider time)
    {
        _capacity = capacity;
        _perTick = perSecond / time.TimestampFrequency;
        _tokens = capacity;
        _refilledAt = now;
    }

    /// <summary>Refills for the time since the last use, then takes <paramref name="amount"/> if there is that much.</summary>
    public bool TryTake(double amount, long now)
    {
        Refill(now);
        if (_tokens < amount)
        {
            return false;
        }

        _tokens -= amount;
        return true;
    }

    /// <summary>Whether the bucket is full at <paramref name="now"/>: the same as a new one.</summary>
    public bool IsFull(long now) => Has(_capacity, now);

    /// <summary>Whether <paramref name="amount"/> could be taken now, without taking it.</summary>
    public bool Has(double amount, long now)
    {
        Refill(now);
        return _tokens >= amount;
    }

    private void Refill(long now)
    {
        if (now > _refilledAt)
        {
            _tokens = Math.Min(_capacity, _tokens + ((now - _refilledAt) * _perTick));
            _refilledAt = now;
        }
    }
}
