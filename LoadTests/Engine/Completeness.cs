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

    /// <summary>A message was confirmed; these recipient clients must receive it.</summary>
    public void Expect(string messageId, string[] recipients) => _expected[messageId] = recipients;

    /// <summary>A recipient client handed a message to the application.</summary>
    public void Received(string recipient, string messageId) =>
        _received.AddOrUpdate((recipient, messageId), 1, (_, count) => count + 1);

    public long ExpectedDeliveries => _expected.Values.Sum(r => (long)r.Length);

    /// <summary>Confirmed deliveries that never arrived.</summary>
    public List<(string MessageId, string Recipient)> Lost() =>
        [.. _expected.SelectMany(e => e.Value.Where(r => !_received.ContainsKey((r, e.Key))).Select(r => (e.Key, r)))];

    /// <summary>Deliveries the application saw more than once.</summary>
    public List<(string MessageId, string Recipient, int Times)> Duplicated() =>
        [.. _received.Where(r => r.Value > 1).Select(r => (r.Key.MessageId, r.Key.Recipient, r.Value))];

    public bool IsComplete => ExpectedDeliveries <= _received.Count(r => _expected.ContainsKey(r.Key.MessageId));
}
