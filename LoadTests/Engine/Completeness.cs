using System.Collections.Concurrent;

namespace ChatNode.LoadTests.Engine;

/// <summary>
/// Checks that every message answered SUCCESS reached every recipient client exactly once (as the application sees
/// it, after the client library's de-duplication). Thread-safe.
/// </summary>
public sealed class Completeness
{
    private readonly ConcurrentDictionary<string, string[]> _expected = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Recipient, string MessageId), int> _received = new();
    private readonly ConcurrentDictionary<string, bool> _failed = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string ClientMessageId, string Recipient)> _failedDelivered = new();

    /// <summary>A message was confirmed; these recipient clients must receive it.</summary>
    public void Expect(string messageId, string[] recipients) => _expected[messageId] = recipients;

    /// <summary>A send was reported as definitely failed (refused, or never applied): it must never be delivered.</summary>
    public void Failed(string clientMessageId) => _failed[clientMessageId] = true;

    /// <summary>A recipient client handed a message to the application (its sender's client message id, when known).</summary>
    public void Received(string recipient, string messageId, string? clientMessageId = null)
    {
        _received.AddOrUpdate((recipient, messageId), 1, (_, count) => count + 1);
        if (clientMessageId is not null && _failed.ContainsKey(clientMessageId))
        {
            _failedDelivered.Enqueue((clientMessageId, recipient));
        }
    }

    /// <summary>Deliveries of sends that were reported as definitely failed: each is a duplicate waiting to happen.</summary>
    public List<(string ClientMessageId, string Recipient)> FailedButDelivered() => [.. _failedDelivered];

    public long ExpectedDeliveries => _expected.Values.Sum(r => (long)r.Length);

    /// <summary>Confirmed deliveries that never arrived.</summary>
    public List<(string MessageId, string Recipient)> Lost() =>
        [.. _expected.SelectMany(e => e.Value.Where(r => !_received.ContainsKey((r, e.Key))).Select(r => (e.Key, r)))];

    /// <summary>Deliveries the application saw more than once.</summary>
    public List<(string MessageId, string Recipient, int Times)> Duplicated() =>
        [.. _received.Where(r => r.Value > 1).Select(r => (r.Key.MessageId, r.Key.Recipient, r.Value))];

    public bool IsComplete => ExpectedDeliveries <= _received.Count(r => _expected.ContainsKey(r.Key.MessageId));
}
