using ChatNode.Connections;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using ChatNode.UnitTests.Infrastructure;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ChatNode.UnitTests.Node.Connections;

/// <summary>One connection's queue, byte budget, unacknowledged-push limit, replay hold and close states, on a fake socket and clock.</summary>
[TestFixture]
[Fast]
public sealed class ClientConnectionTests
{
    private static readonly ConnectionMetrics Metrics = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private FakeWebSocket _socket = null!;
    private ClientConnection _connection = null!;
    private Task _writer = Task.CompletedTask;

    private static ConnectionOptions Options => new() { OutboundBudgetBytes = 64 * 1024, MaxFrameBytes = 1024, MaxUnackedPushes = 10, MaxBadFrames = 20, ShutdownTimeout = TimeSpan.FromSeconds(5) };

    [SetUp]
    public void Open()
    {
        _socket = new FakeWebSocket();
        _connection = new ClientConnection(_socket, new ClientAddress("bob", "phone"), FrameEncoding.Proto, Options, Metrics, _clock);
        _writer = _connection.RunWriterAsync();
    }

    [TearDown]
    public async Task Close()
    {
        _connection.Evict(CloseCode.Shutdown, "test over");
        _socket.Blocked = false;
        await Poll.WithinAsync(_writer.ContinueWith(_ => true), "the writer to end");
        _connection.Dispose();
    }

    private static OutboundFrame Push(int n, int textBytes = 10) => new(new ServerFrame
    {
        NewMessage = new NewMessage { DeliveryId = $"m.c.{n}", MessageId = $"id{n}", Text = new string('x', textBytes) },
    }, $"m.c.{n}");

    private static OutboundFrame Result(ulong requestId, int textBytes = 10) => new(new ServerFrame { RequestId = requestId, Error = new Error { Message = new string('r', textBytes) } });

    private List<ServerFrame> SentFrames() => [.. _socket.Sent.Select(b => ServerFrame.Parser.ParseFrom(b))];

    private Task<bool> WriterEndsAsync() => Poll.WithinAsync(_writer.ContinueWith(_ => true), "the writer to end");

    [Test]
    public async Task The_writer_sends_results_and_pushes_in_the_order_they_were_queued()
    {
        _connection.EndReplay();
        _connection.Send(Result(1));
        _connection.Deliver(Push(1));
        _connection.Send(Result(2));
        _connection.Deliver(Push(2));
        await Poll.UntilAsync(() => _socket.Sent.Count == 4, "four frames on the socket");
        Assert.That(SentFrames().Select(f => f.RequestId != 0 ? $"r{f.RequestId}" : f.NewMessage.DeliveryId), Is.EqualTo(new[] { "r1", "m.c.1", "r2", "m.c.2" }));
        Assert.That(_connection.IsPending("m.c.1") && _connection.IsPending("m.c.2"), Is.True, "pushes wait for their ack");
    }

    [Test]
    public async Task A_connection_whose_queue_passes_its_byte_budget_is_evicted_and_its_queue_dropped()
    {
        _connection.EndReplay();
        _socket.Blocked = true;
        var pushes = 0;
        while (!_connection.IsClosing && pushes < 200)
        {
            _connection.Deliver(Push(pushes++ % Options.MaxUnackedPushes, textBytes: 8 * 1024));
            _connection.Acknowledge([$"m.c.{(pushes - 1) % Options.MaxUnackedPushes}"]);
        }

        Assert.That(_connection.IsClosing, Is.True, "a peer that reads nothing fills the budget");
        Assert.That(pushes, Is.LessThanOrEqualTo(Options.OutboundBudgetBytes / (8 * 1024) + 1), "after about budget / frame size frames");
        Assert.That(_connection.CloseCode, Is.EqualTo(CloseCode.SlowConsumer));
        _socket.Blocked = false;
        await WriterEndsAsync();
        Assert.That(_socket.CloseStatus, Is.EqualTo((System.Net.WebSockets.WebSocketCloseStatus)(int)CloseCode.SlowConsumer));
        Assert.That(_socket.Sent.Count, Is.LessThanOrEqualTo(1), "the queue was dropped, not flushed");
    }

    [Test]
    public void Results_count_against_the_budget_but_one_always_fits_an_empty_queue()
    {
        _connection.EndReplay();
        _socket.Blocked = true;
        Assert.That(_connection.Send(Result(1, textBytes: Options.OutboundBudgetBytes * 2)), Is.True, "one large result alone is not a slow consumer");
        Assert.That(_connection.IsClosing, Is.False);

        // A client that keeps sending requests and never reads their results fills the budget like a slow consumer.
        var sent = 1;
        while (!_connection.IsClosing && sent < 200)
        {
            _connection.Send(Result((ulong)++sent, textBytes: 8 * 1024));
        }

        Assert.That(_connection.IsClosing, Is.True);
        Assert.That(_connection.CloseCode, Is.EqualTo(CloseCode.SlowConsumer));
        Assert.That(sent, Is.LessThan(10), "at once: the queue was already over its budget");
    }

    [Test]
    public void Bad_frames_close_the_connection_past_the_limit_but_their_count_leaks_away()
    {
        for (var i = 0; i < Options.MaxBadFrames; i++)
        {
            Assert.That(_connection.RecordBadFrame(), Is.False, $"bad frame {i + 1} of {Options.MaxBadFrames} is allowed");
        }

        _clock.Advance(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 10; i++)
        {
            Assert.That(_connection.RecordBadFrame(), Is.False, "ten leaked away in ten seconds");
        }

        Assert.That(_connection.RecordBadFrame(), Is.True, "one more than the limit without pause");
    }

    [Test]
    public void Too_many_unacknowledged_pushes_evict_the_connection()
    {
        _connection.EndReplay();
        for (var i = 0; i < Options.MaxUnackedPushes; i++)
        {
            _connection.Deliver(Push(i));
        }

        Assert.That(_connection.IsClosing, Is.False, "at the limit");
        _connection.Deliver(Push(Options.MaxUnackedPushes));
        Assert.That((_connection.IsClosing, _connection.CloseCode), Is.EqualTo((true, (CloseCode?)CloseCode.SlowConsumer)), "one over the limit");
    }

    [Test]
    public async Task Live_pushes_wait_for_the_replay_and_those_it_already_sent_are_not_sent_twice()
    {
        _connection.Deliver(Push(1));
        _connection.Deliver(Push(2));
        Assert.That(_connection.IsReplaying, Is.True);
        Assert.That(_connection.IsPending("m.c.1"), Is.False, "held, not pushed");

        _connection.DeliverStored(Push(1));
        _connection.EndReplay();
        await Poll.UntilAsync(() => _socket.Sent.Count == 2, "the replayed push and the held one");
        Assert.That(SentFrames().Select(f => f.NewMessage.DeliveryId), Is.EqualTo(new[] { "m.c.1", "m.c.2" }));
    }

    [Test]
    public void Pushes_left_unacknowledged_are_due_for_redelivery_by_the_clock()
    {
        _connection.EndReplay();
        _connection.Deliver(Push(1));
        _clock.Advance(TimeSpan.FromSeconds(10));
        _connection.Deliver(Push(2));
        Assert.That(_connection.DuePushes(_clock.GetTimestamp() - (5 * _clock.TimestampFrequency)), Is.EqualTo(new[] { "m.c.1" }), "only the push older than 5 s");

        _connection.Acknowledge(["m.c.1"]);
        Assert.That(_connection.DuePushes(_clock.GetTimestamp() + 1), Is.EqualTo(new[] { "m.c.2" }));
    }

    [Test]
    public async Task A_graceful_close_flushes_the_queue_then_sends_the_close_code_once()
    {
        _connection.EndReplay();
        _socket.Blocked = true;
        _connection.Deliver(Push(1));
        _connection.Send(Result(7));
        _connection.Close(CloseCode.Redirect, "user owned by n2");
        _connection.Close(CloseCode.Shutdown, "a second close changes nothing");
        Assert.That(_connection.Send(Result(8)), Is.False, "nothing is queued after close");

        _socket.Blocked = false;
        await WriterEndsAsync();
        Assert.That(SentFrames().Select(f => f.RequestId), Is.EqualTo(new ulong[] { 0, 7 }), "what was queued before the close");
        Assert.That((_socket.CloseStatus, _socket.CloseStatusDescription), Is.EqualTo(((System.Net.WebSockets.WebSocketCloseStatus?)(int)CloseCode.Redirect, "user owned by n2")));
    }

    [Test]
    public async Task A_close_that_cannot_flush_is_aborted_at_its_deadline()
    {
        _connection.EndReplay();
        _socket.Blocked = true;
        _connection.Deliver(Push(1));
        _connection.Close(CloseCode.Shutdown, "node shutting down");
        _clock.Advance(TimeSpan.FromSeconds(4));
        Assert.That(_connection.Aborted.IsCancellationRequested, Is.False, "before the shutdown timeout");
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.That(_connection.Aborted.IsCancellationRequested, Is.True, "at the shutdown timeout the connection is aborted");
        await WriterEndsAsync();
        Assert.That(_socket.Sent, Is.Empty);
    }

    [Test]
    public async Task Waiting_for_room_ends_when_acknowledgements_free_it_or_the_connection_closes()
    {
        _connection.EndReplay();
        for (var i = 0; i < Options.MaxUnackedPushes / 2; i++)
        {
            _connection.Deliver(Push(i));
        }

        var waiting = _connection.WaitForRoomAsync(100, CancellationToken.None);
        Assert.That(waiting.IsCompleted, Is.False, "unacknowledged pushes at half their limit");
        _connection.Acknowledge(["m.c.0"]);
        await Poll.WithinAsync(waiting.ContinueWith(_ => true), "room after an ack");

        _connection.Deliver(Push(100));
        var closing = _connection.WaitForRoomAsync(100, CancellationToken.None);
        _connection.Close(CloseCode.Shutdown, "bye");
        await Poll.WithinAsync(closing.ContinueWith(_ => true), "the wait to end with the connection");
    }

    [Test]
    public async Task Aborting_a_connection_that_already_ended_does_nothing()
    {
        _connection.Evict(CloseCode.Shutdown, "ended");
        await WriterEndsAsync();
        _connection.Dispose();
        Assert.DoesNotThrow(_connection.Abort, "the drain may abort a connection that ended after its snapshot");
    }
}
