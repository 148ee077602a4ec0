using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ChatNode.Registry.Ring;

namespace ChatNode.Registry;

/// <summary>
/// Holds the latest <see cref="RingSnapshot"/> and hands newer ones to each subscriber on a channel of its own (one
/// slot, latest wins). Registries publish through it; <see cref="IClusterRegistry.WatchAsync"/> reads from it.
/// Thread-safe.
/// </summary>
public sealed class RingPublisher
{
    private readonly object _gate = new();
    private readonly List<Channel<RingSnapshot>> _subscribers = [];
    private RingSnapshot _current = RingSnapshot.Empty;
    private bool _completed;

    public RingSnapshot Current => Volatile.Read(ref _current);

    /// <summary>
    /// Makes <paramref name="snapshot"/> current and offers it to every subscriber. False (and nothing changes) when its
    /// epoch is not newer, unless <paramref name="force"/> (a recreated backing store restarts its epochs).
    /// </summary>
    public bool Publish(RingSnapshot snapshot, bool force = false)
    {
        lock (_gate)
        {
            if (_completed || (!force && snapshot.Epoch <= _current.Epoch && _current.Epoch != 0))
            {
                return false;
            }

            Volatile.Write(ref _current, snapshot);
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryWrite(snapshot);
            }

            return true;
        }
    }

    /// <summary>Ends every subscription (the registry is disposed).</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryComplete();
            }

            _subscribers.Clear();
        }
    }

    public async IAsyncEnumerable<RingSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<RingSnapshot>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        RingSnapshot first;
        lock (_gate)
        {
            first = _current;
            if (_completed)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _subscribers.Add(channel);
            }
        }

        try
        {
            yield return first;
            var last = first;
            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var snapshot))
                {
                    // A recreated backing store restarts its epochs: a lower epoch from a forced publish is newer too.
                    if (!ReferenceEquals(snapshot, last))
                    {
                        last = snapshot;
                        yield return snapshot;
                    }
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _subscribers.Remove(channel);
            }
        }
    }
}
