using System.Collections.Concurrent;
using ChatNode.Client;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using ChatNode.Storage.Memory;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ChatNode.UnitTests.Node;

/// <summary>
/// The outcome classes of a send (docs/protocol.md): stored, refused (nothing stored, never delivered), or unknown (may
/// be stored: the client retries with the same clientMessageId, from its outbox past its retry budget, and the message is
/// stored and shown once). The store is made to fail at chosen steps of the send path, on a real node and real sockets.
/// </summary>
[TestFixture]
[Fast]
public sealed class SendOutcomeTests
{
    private readonly List<IAsyncDisposable> _disposables = [];
    private FlakyMessages _store = null!;
    private TestNode _node = null!;

    [SetUp]
    public async Task StartAsync()
    {
        var store = new InMemoryStore();
        _store = new FlakyMessages(store);
        // The faults below close connections again and again; the clients' reconnects are not what is tested here.
        var settings = new Dictionary<string, string?> { ["Node:ConnectBurst"] = "1000" };
        _node = await TestNode.StartAsync(settings, backend: StoreBackend.Memory, store: store, services: s => s.Replace(ServiceDescriptor.Singleton<IMessageStore>(_store)));
        _disposables.Add(_node);
    }

    [TearDown]
    public async Task StopAsync()
    {
        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }

        _disposables.Clear();
    }

    [Test]
    public async Task A_send_that_failed_after_it_was_stored_is_answered_outcome_unknown_and_its_retry_stores_it_once()
    {
        var (alice, bob, chat, received) = await ChatAsync();
        _store.FailMarks = 1;

        var frame = new ClientFrame { SendMessage = new SendMessage { ChatId = chat, Text = "maybe", ClientMessageId = "c-maybe" } };
        var error = Assert.ThrowsAsync<ChatErrorException>(() => alice.RequestAsync(frame));
        Assert.That((error!.Code, error.OutcomeUnknown), Is.EqualTo((ErrorCode.Unavailable, true)), "the message may be stored: the client must retry it, not resend it");
        await Poll.UntilAsync(() => received.ContainsKey("maybe"), "the fanned-out message to reach bob anyway");

        var retried = await alice.SendMessageAsync(chat, "maybe", "c-maybe");
        Assert.That(retried.Duplicate, Is.True, "the retry found the stored message");
        await AssertShownOnceAsync(alice, chat, received, "maybe");
    }

    [Test]
    public async Task A_send_still_unknown_after_the_budget_stays_in_the_outbox_and_settles_once_the_store_is_back()
    {
        var settled = new TaskCompletionSource<SettledSend>(TaskCreationOptions.RunContinuationsAsynchronously);
        var (alice, _, chat, received) = await ChatAsync(o =>
        {
            o.SendRetryBudget = TimeSpan.FromSeconds(1);
            o.OutboxRetryInterval = TimeSpan.FromMilliseconds(200);
            o.OnSendSettled = s => settled.TrySetResult(s);
        });
        _store.FailMarks = int.MaxValue;

        var pending = Assert.ThrowsAsync<SendOutcomeUnknownException>(() => alice.SendMessageAsync(chat, "later", "c-later"));
        Assert.That(pending!.Send.ClientMessageId, Is.EqualTo("c-later"));

        _store.FailMarks = 0;
        var outcome = await Poll.WithinAsync(settled.Task, "the outbox to settle the send");
        Assert.That(outcome.Result, Is.Not.Null, "stored");
        Assert.That(outcome.Send.ClientMessageId, Is.EqualTo("c-later"));
        await AssertShownOnceAsync(alice, chat, received, "later");
    }

    [Test]
    public async Task A_send_refused_before_anything_was_stored_is_reported_failed_and_never_delivered()
    {
        var outbox = new MemorySendOutbox();
        var (alice, _, chat, received) = await ChatAsync(o =>
        {
            o.SendRetryBudget = TimeSpan.FromSeconds(1);
            o.Outbox = outbox;
        });
        _store.FullAppends = true;

        var frame = new ClientFrame { SendMessage = new SendMessage { ChatId = chat, Text = "refused", ClientMessageId = "c-refused-1" } };
        var error = Assert.ThrowsAsync<ChatErrorException>(() => alice.RequestAsync(frame));
        Assert.That((error!.Code, error.OutcomeUnknown), Is.EqualTo((ErrorCode.StoreFull, false)), "nothing was stored: a definite answer");
        Assert.ThrowsAsync<ChatConnectionException>(() => alice.SendMessageAsync(chat, "refused", "c-refused-2"), "never applied within the budget");
        Assert.That(outbox.Count, Is.Zero, "a send that failed for sure is not kept");

        _store.FullAppends = false;
        await AssertShownOnceAsync(alice, chat, received, null);
        Assert.That(received.ContainsKey("refused"), Is.False, "a send reported failed is never delivered");
    }

    [Test]
    public async Task An_app_restarted_with_its_outbox_settles_what_was_pending_with_the_same_id()
    {
        var outbox = new MemorySendOutbox();
        var (first, _, chat, received) = await ChatAsync(o =>
        {
            o.SendRetryBudget = TimeSpan.FromSeconds(1);
            o.Outbox = outbox;
        });
        _store.FailMarks = int.MaxValue;
        Assert.ThrowsAsync<SendOutcomeUnknownException>(() => first.SendMessageAsync(chat, "across a restart", "c-restart"));
        await first.DisposeAsync();
        Assert.That(outbox.Count, Is.EqualTo(1), "kept for the next run of the app");

        _store.FailMarks = 0;
        var settled = new TaskCompletionSource<SettledSend>(TaskCreationOptions.RunContinuationsAsynchronously);
        var again = await Connect("alice", "phone", o =>
        {
            o.Outbox = outbox;
            o.OnSendSettled = s => settled.TrySetResult(s);
        });
        var outcome = await Poll.WithinAsync(settled.Task, "the restarted client to settle the kept send");
        Assert.That((outcome.Send.ClientMessageId, outcome.Result?.Duplicate), Is.EqualTo(("c-restart", (bool?)true)), "the first attempt had stored it; the retry found it");
        Assert.That(outbox.Count, Is.Zero);
        await AssertShownOnceAsync(again, chat, received, "across a restart");
    }

    private async Task<(ChatClient Alice, ChatClient Bob, string ChatId, ConcurrentDictionary<string, int> Received)> ChatAsync(Action<ChatClientOptions>? configure = null)
    {
        var alice = await Connect("alice", "phone", configure);
        var bob = await Connect("bob", "phone");
        var chat = (await alice.CreateChatAsync(["bob"])).ChatId;
        var received = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        _ = Task.Run(async () =>
        {
            await foreach (var message in bob.Messages.ReadAllAsync())
            {
                received.AddOrUpdate(message.Text, 1, (_, n) => n + 1);
            }
        });
        return (alice, bob, chat, received);
    }

    private async Task<ChatClient> Connect(string user, string client, Action<ChatClientOptions>? configure = null)
    {
        var connected = await _node.ConnectAsync(user, client, configure: configure);
        _disposables.Add(connected);
        return connected;
    }

    // A marker sent after the message arrives after it (one chat, in order): by then every copy of the message was handed over.
    private static async Task AssertShownOnceAsync(ChatClient sender, string chat, ConcurrentDictionary<string, int> received, string? text)
    {
        var marker = "marker-" + Guid.NewGuid().ToString("N");
        await sender.SendMessageAsync(chat, marker);
        await Poll.UntilAsync(() => received.ContainsKey(marker), "the marker to arrive");
        if (text is not null)
        {
            Assert.That(received.GetValueOrDefault(text), Is.EqualTo(1), $"'{text}' shown once");
        }
    }

    /// <summary>The in-memory message store, failing at chosen steps as Redis does in a failover or at its memory limit.</summary>
    private sealed class FlakyMessages(IMessageStore inner) : IMessageStore
    {
        private int _failMarks;

        /// <summary>How many of the next "mark fanned out" writes (after the message is stored and in every inbox) fail.</summary>
        public int FailMarks
        {
            get => Volatile.Read(ref _failMarks);
            set => Volatile.Write(ref _failMarks, value);
        }

        /// <summary>Appends are refused for memory, writing nothing.</summary>
        public volatile bool FullAppends;

        public Task<AppendResult> AppendAsync(MessageDraft draft, CancellationToken cancellationToken) =>
            FullAppends ? throw new StoreFullException("the store is at its memory limit") : inner.AppendAsync(draft, cancellationToken);

        public async Task MarkFannedOutAsync(MessageDraft draft, CancellationToken cancellationToken)
        {
            if (Interlocked.Decrement(ref _failMarks) >= 0)
            {
                throw new StoreUnavailableException("the replica did not acknowledge in time", mayHaveWritten: true);
            }

            Interlocked.Exchange(ref _failMarks, 0);
            await inner.MarkFannedOutAsync(draft, cancellationToken);
        }

        public Task<IReadOnlyList<StoredMessage?>> GetMessagesAsync(IReadOnlyList<(string ChatId, long Seq)> keys, CancellationToken cancellationToken) =>
            inner.GetMessagesAsync(keys, cancellationToken);
    }
}
