namespace ChatNode.Client;

/// <summary>What a pushed item is: a message of a chat (by seq) or a change to a chat (by the chat's version).</summary>
public enum DedupeKind
{
    Message,
    ChatUpdate,
}

/// <summary>One pushed item: its chat, its kind, and its number in that chat (a message's seq, a chat update's version).</summary>
public readonly record struct DedupeKey(string ChatId, DedupeKind Kind, ulong Number);

/// <summary>
/// Remembers which items the application has been handed, so that a push that arrives again (redelivered, replayed,
/// or dual-written while the user moved between nodes) is dropped. Back it with the application's own storage to keep
/// "shown exactly once" across restarts of the app; <see cref="SeqDedupe"/> is a small in-memory implementation whose
/// state can be saved and restored. Called from one thread at a time per client.
/// </summary>
public interface IMessageDedupe
{
    /// <summary>True the first time an item is seen (hand it to the application); false for a repeat.</summary>
    bool TryAccept(DedupeKey key);
}

/// <summary>What <see cref="SeqDedupe"/> remembers of one chat and kind: every number at or below <see cref="Floor"/>, and <see cref="Above"/>.</summary>
public sealed record SeenNumbers(ulong Floor, IReadOnlyList<ulong> Above);

/// <summary>
/// Per chat and kind, a floor and the numbers seen above it: cheap because numbers (seq, version) increase per chat.
/// When more than <c>window</c> numbers are remembered above the floor, the floor rises to the lowest of them, so an
/// item that arrives for the first time after <c>window</c> newer items of its chat counts as seen (it is dropped);
/// with the default window of 1,024 that takes an item delayed behind a thousand newer ones of the same chat.
/// Thread-safe. <see cref="Snapshot"/> and the constructor taking a snapshot let an app persist it.
/// </summary>
public sealed class SeqDedupe : IMessageDedupe
{
    private readonly object _gate = new();
    private readonly int _window;
    private readonly Dictionary<(string ChatId, DedupeKind Kind), (ulong Floor, SortedSet<ulong> Above)> _chats = [];

    public SeqDedupe(int window = 1024, IEnumerable<KeyValuePair<(string ChatId, DedupeKind Kind), SeenNumbers>>? restore = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        _window = window;
        foreach (var (key, seen) in restore ?? [])
        {
            _chats[key] = (seen.Floor, new SortedSet<ulong>(seen.Above.Where(n => n > seen.Floor)));
        }
    }

    public bool TryAccept(DedupeKey key)
    {
        lock (_gate)
        {
            if (!_chats.TryGetValue((key.ChatId, key.Kind), out var chat))
            {
                _chats[(key.ChatId, key.Kind)] = chat = (0, []);
            }

            if (key.Number <= chat.Floor || !chat.Above.Add(key.Number))
            {
                return false;
            }

            while (chat.Above.Count > _window)
            {
                var lowest = chat.Above.Min;
                chat.Above.Remove(lowest);
                _chats[(key.ChatId, key.Kind)] = chat = (lowest, chat.Above);
            }

            return true;
        }
    }

    /// <summary>The state to persist, per chat and kind.</summary>
    public IReadOnlyDictionary<(string ChatId, DedupeKind Kind), SeenNumbers> Snapshot()
    {
        lock (_gate)
        {
            return _chats.ToDictionary(c => c.Key, c => new SeenNumbers(c.Value.Floor, [.. c.Value.Above]));
        }
    }
}
