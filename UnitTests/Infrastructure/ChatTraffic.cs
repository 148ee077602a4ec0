using System.Collections.Concurrent;
using ChatNode.Client;

namespace ChatNode.UnitTests.Infrastructure;

/// <summary>
/// Steady traffic through a fleet for transition tests: pairs of users in 1:1 chats (recipients spread over the nodes by
/// their user ids), each sender sending every few milliseconds until stopped. Counts what each recipient client hands to
/// the application, so a test can assert that every message confirmed to its sender reached its recipient exactly once.
/// Recipients record when their client moved to another node.
/// </summary>
public sealed class ChatTraffic : IAsyncDisposable
{
    private readonly List<(ChatClient Sender, string ChatId, Recipient Recipient)> _pairs = [];
    private readonly ConcurrentDictionary<string, string> _confirmed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTime> _confirmedAt = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _senders = [];
    private readonly List<Task> _receivers = [];

    private ChatTraffic()
    {
    }

    public IReadOnlyList<Recipient> Recipients => [.. _pairs.Select(p => p.Recipient)];

    public int Confirmed => _confirmed.Count;

    /// <summary>The longest a message may take from its SUCCESS to its recipient: well below the redelivery and resync sweeps.</summary>
    public static TimeSpan MaxLateness { get; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// Connects one sender per entry of <paramref name="recipientUsers"/> and that recipient through
    /// <paramref name="seed"/> (each ends at its owner), creates their chats and starts sending.
    /// </summary>
    public static async Task<ChatTraffic> StartAsync(TestNode seed, IReadOnlyList<string> recipientUsers, IReadOnlyList<Uri>? seeds = null)
    {
        var traffic = new ChatTraffic();
        try
        {
            foreach (var recipientUser in recipientUsers)
            {
                var senderUser = TestEnvironment.NewId("sender");
                var sender = await seed.ConnectAsync(senderUser, "phone", configure: o => o.Seeds = seeds ?? []);
                var recipient = new Recipient(recipientUser, await seed.ConnectAsync(recipientUser, "phone", configure: o => o.Seeds = seeds ?? []));
                var chat = await sender.CreateChatAsync([recipientUser]);
                traffic._pairs.Add((sender, chat.ChatId, recipient));
            }

            foreach (var pair in traffic._pairs)
            {
                traffic._senders.Add(traffic.SendAsync(pair.Sender, pair.ChatId, pair.Recipient.User));
                traffic._receivers.Add(pair.Recipient.ReceiveAsync());
            }

            return traffic;
        }
        catch
        {
            await traffic.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops sending; receiving goes on until every confirmed message arrived (asserted) or the deadline.</summary>
    public async Task StopAndAssertEachDeliveredOnceAsync(TimeSpan timeout)
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_senders);
        await Poll.UntilAsync(
            () => _confirmed.All(c => _pairs.First(p => p.Recipient.User == c.Value).Recipient.Received.ContainsKey(c.Key)),
            $"every one of {_confirmed.Count} confirmed messages to reach its recipient",
            timeout);
        var twice = _pairs.SelectMany(p => p.Recipient.Received.Where(r => r.Value > 1).Select(r => $"{p.Recipient.User}: {r.Key} x{r.Value}")).ToArray();
        Assert.That(twice, Is.Empty, "no message is handed to an application twice");

        // Nothing waited for a redelivery or resync sweep: every message arrived soon after its SUCCESS (or before it).
        var late = _pairs.SelectMany(p => p.Recipient.FirstSeen.Where(f => _confirmedAt.TryGetValue(f.Key, out var at) && f.Value - at > MaxLateness)
            .Select(f => $"{p.Recipient.User}: {f.Key} after {(f.Value - _confirmedAt[f.Key]).TotalSeconds:0.0} s")).ToArray();
        Assert.That(late, Is.Empty, $"every message arrived within {MaxLateness.TotalSeconds} s of its SUCCESS");
        Assert.That(_confirmed.Count, Is.GreaterThan(_pairs.Count), "messages were confirmed");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_senders);
        foreach (var (sender, _, recipient) in _pairs)
        {
            await sender.DisposeAsync();
            await recipient.Client.DisposeAsync();
        }

        await Task.WhenAll(_receivers);
        _stop.Dispose();
    }

    // Sends until stopped; a send that failed for good (no SUCCESS) is simply not expected anywhere.
    private async Task SendAsync(ChatClient sender, string chatId, string recipient)
    {
        await Task.Yield();
        var i = 0;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var result = await sender.SendMessageAsync(chatId, $"message {i++}");
                _confirmedAt[result.MessageId] = DateTime.UtcNow;
                _confirmed[result.MessageId] = recipient;
            }
            catch (Exception ex) when (ex is ChatConnectionException or ChatErrorException)
            {
            }

            try
            {
                await Task.Delay(20, _stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>One recipient client: what it handed to the application, and when it moved between nodes.</summary>
    public sealed class Recipient(string user, ChatClient client)
    {
        public string User { get; } = user;

        public ChatClient Client { get; } = client;

        public ConcurrentDictionary<string, int> Received { get; } = new(StringComparer.Ordinal);

        /// <summary>When each message was first handed to the application (UTC).</summary>
        public ConcurrentDictionary<string, DateTime> FirstSeen { get; } = new(StringComparer.Ordinal);

        /// <summary>When the client was welcomed by another node than before (UTC), and by which.</summary>
        public ConcurrentQueue<(DateTime At, string NodeId)> Moves { get; } = new();

        public string? NodeId => Client.Welcome?.NodeId;

        // Until the client is disposed; a change of the welcoming node is recorded as a move when the next message
        // arrives (and at the end).
        public async Task ReceiveAsync()
        {
            var node = NodeId;
            await foreach (var message in Client.Messages.ReadAllAsync(CancellationToken.None))
            {
                if (NodeId is { } now && now != node)
                {
                    Moves.Enqueue((DateTime.UtcNow, now));
                    node = now;
                }

                FirstSeen.TryAdd(message.MessageId, DateTime.UtcNow);
                Received.AddOrUpdate(message.MessageId, 1, (_, n) => n + 1);
            }
        }
    }
}
