using ChatNode.Protocol;

namespace ChatNode.Connections;

/// <summary>
/// Closes connections at a time given per connection (a token's expiry), with one timer for the node instead of one per
/// connection: connections are kept by the second they are due, and the timer is armed for the earliest second. A
/// connection is closed within a second after its time, never before. An idle node holding many connections thus walks
/// no per-connection timers. Thread-safe.
/// </summary>
public sealed class CloseSchedule : IDisposable
{
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly SortedDictionary<long, HashSet<Entry>> _due = [];
    private readonly ITimer _timer;
    private long _armedFor = long.MaxValue;

    public CloseSchedule(TimeProvider time)
    {
        _time = time;
        _timer = time.CreateTimer(static state => ((CloseSchedule)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Connections waiting for their time.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _due.Values.Sum(e => e.Count);
            }
        }
    }

    /// <summary>Closes <paramref name="connection"/> with <paramref name="code"/> at <paramref name="at"/>, unless the returned registration is disposed first.</summary>
    public IDisposable Add(ClientConnection connection, DateTimeOffset at, CloseCode code, string reason)
    {
        // Rounded up to the second: late by less than a second, never early.
        var second = (at.ToUnixTimeMilliseconds() + 999) / 1000;
        var entry = new Entry(this, connection, code, reason, second);
        lock (_gate)
        {
            if (!_due.TryGetValue(second, out var bucket))
            {
                _due[second] = bucket = [];
            }

            bucket.Add(entry);
            if (second < _armedFor)
            {
                ArmLocked(second);
            }
        }

        return entry;
    }

    public void Dispose() => _timer.Dispose();

    private void Remove(Entry entry)
    {
        lock (_gate)
        {
            if (_due.TryGetValue(entry.Second, out var bucket) && bucket.Remove(entry) && bucket.Count == 0)
            {
                _due.Remove(entry.Second);
            }
        }
    }

    private void Fire()
    {
        List<Entry>? due = null;
        lock (_gate)
        {
            _armedFor = long.MaxValue;
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            while (_due.Count > 0)
            {
                var (second, bucket) = _due.First();
                if (second * 1000 > now)
                {
                    ArmLocked(second);
                    break;
                }

                _due.Remove(second);
                (due ??= []).AddRange(bucket);
            }
        }

        foreach (var entry in due ?? [])
        {
            entry.Connection.Close(entry.Code, entry.Reason);
        }
    }

    // Caller holds _gate.
    private void ArmLocked(long second)
    {
        // A timer takes at most ~49 days: a later time is reached by firing daily and arming again.
        _armedFor = second;
        var wait = TimeSpan.FromMilliseconds(Math.Clamp((second * 1000) - _time.GetUtcNow().ToUnixTimeMilliseconds(), 0, (long)TimeSpan.FromDays(1).TotalMilliseconds));
        _timer.Change(wait, Timeout.InfiniteTimeSpan);
    }

    private sealed class Entry(CloseSchedule schedule, ClientConnection connection, CloseCode code, string reason, long second) : IDisposable
    {
        public ClientConnection Connection { get; } = connection;

        public CloseCode Code { get; } = code;

        public string Reason { get; } = reason;

        public long Second { get; } = second;

        public void Dispose() => schedule.Remove(this);
    }
}
