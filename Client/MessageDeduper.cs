namespace ChatNode.Client;

/// <summary>Remembers the last N message ids seen; a message is new when its id is not among them. Thread-safe.</summary>
public sealed class MessageDeduper(int capacity)
{
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly object _gate = new();

    /// <summary>True the first time an id is seen (within the remembered window).</summary>
    public bool TryAdd(string id)
    {
        lock (_gate)
        {
            if (!_seen.Add(id))
            {
                return false;
            }

            _order.Enqueue(id);
            if (_order.Count > capacity)
            {
                _seen.Remove(_order.Dequeue());
            }

            return true;
        }
    }
}
