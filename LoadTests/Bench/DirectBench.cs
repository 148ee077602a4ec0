using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using ChatNode.Auth;
using ChatNode.Client;
using HdrHistogram;
using Microsoft.Extensions.Options;

namespace ChatNode.LoadTests.Bench;

/// <summary>
/// N pairs in 1:1 chats; each sender keeps a window of sends in flight (closed loop) or follows a share of a
/// total rate (open loop). Measures send-to-SUCCESS and send-to-delivery latency, delivered messages per second,
/// and the CPU of the watched processes; checks that every confirmed message was delivered exactly once.
/// </summary>
public static class DirectBench
{
    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var tokens = new TokenService(Options.Create(new AuthOptions { Secret = options.Secret }), TimeProvider.System);
        var run = Guid.NewGuid().ToString("N")[..8];
        Console.WriteLine($"direct: {options.Pairs} pairs, window {options.Window}, rate {(options.Rate == 0 ? "max" : options.Rate.ToString(CultureInfo.InvariantCulture))}, {options.Duration.TotalSeconds:0}s against {options.Url}");

        var senders = new ChatClient[options.Pairs];
        var recipients = new ChatClient[options.Pairs];
        var chats = new string[options.Pairs];
        var connect = Stopwatch.StartNew();
        using var connectLimit = new SemaphoreSlim(50);
        await Task.WhenAll(Enumerable.Range(0, options.Pairs).Select(async i =>
        {
            await connectLimit.WaitAsync(cancellationToken);
            try
            {
                senders[i] = await Connect(options, tokens, $"s{run}-{i}", cancellationToken);
                recipients[i] = await Connect(options, tokens, $"r{run}-{i}", cancellationToken);
                chats[i] = (await senders[i].CreateChatAsync([$"r{run}-{i}"], cancellationToken: cancellationToken)).ChatId;
            }
            finally
            {
                connectLimit.Release();
            }
        }));
        Console.WriteLine($"connected {options.Pairs * 2} clients and created {options.Pairs} chats in {connect.Elapsed.TotalSeconds:0.0}s");

        var ackLatency = new LongConcurrentHistogram(1, TimeStamp.Seconds(60), 3);
        var deliveryLatency = new LongConcurrentHistogram(1, TimeStamp.Seconds(60), 3);
        var confirmed = new ConcurrentDictionary<string, byte>();
        var deliveredIds = new ConcurrentDictionary<string, byte>();
        long sent = 0, failed = 0, delivered = 0;
        using var stopReceiving = new CancellationTokenSource();
        var receivers = recipients.Select(r => Task.Run(async () =>
        {
            try
            {
                await foreach (var message in r.Messages.ReadAllAsync(stopReceiving.Token))
                {
                    var sentAt = long.Parse(message.Text.AsSpan(0, message.Text.IndexOf(' ', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
                    deliveryLatency.RecordValue(Math.Max(1, Stopwatch.GetTimestamp() - sentAt));
                    Interlocked.Increment(ref delivered);
                    deliveredIds.TryAdd(message.MessageId, 0);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }, CancellationToken.None)).ToArray();

        // The load generator shares the machine: report its own CPU too.
        var watched = options.WatchPids.Append(Environment.ProcessId).Distinct().ToArray();
        var cpuBefore = watched.ToDictionary(p => p, ProcessStats.CpuSeconds);
        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stopSending.CancelAfter(options.Duration);
        var clock = Stopwatch.StartNew();
        var perSenderInterval = options.Rate > 0 ? TimeSpan.FromSeconds((double)options.Pairs / options.Rate) : TimeSpan.Zero;
        var progress = Task.Run(async () =>
        {
            long lastDelivered = 0;
            while (!stopSending.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(2), stopSending.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                var now = Interlocked.Read(ref delivered);
                Console.WriteLine($"  {clock.Elapsed.TotalSeconds,5:0}s sent {Interlocked.Read(ref sent),9:N0} delivered {now,9:N0} ({(now - lastDelivered) / 2.0,8:N0}/s) p99 so far {deliveryLatency.GetValueAtPercentile(99) * 1000.0 / Stopwatch.Frequency,7:0.0} ms");
                lastDelivered = now;
            }
        }, CancellationToken.None);

        await Task.WhenAll(Enumerable.Range(0, options.Pairs).Select(i => SendLoopAsync(i)));
        var sendSeconds = clock.Elapsed.TotalSeconds;

        // Drain: every confirmed message must arrive (bounded wait).
        var drainDeadline = Stopwatch.StartNew();
        while (Interlocked.Read(ref delivered) < confirmed.Count && drainDeadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50, CancellationToken.None);
        }

        var elapsed = clock.Elapsed.TotalSeconds;
        var cpu = watched.ToDictionary(p => p, p => ProcessStats.CpuSeconds(p) - cpuBefore[p]);
        await stopSending.CancelAsync();
        await progress;
        await stopReceiving.CancelAsync();
        await Task.WhenAll(receivers);

        // Completeness: each confirmed message reached its recipient; the client library already dropped duplicates.
        var lostIds = confirmed.Keys.Where(id => !deliveredIds.ContainsKey(id)).ToArray();
        var lost = lostIds.Length;
        var duplicates = recipients.Sum(r => r.DuplicatesDropped);
        Console.WriteLine();
        Console.WriteLine($"sent {sent:N0}, confirmed {confirmed.Count:N0}, failed {failed:N0}, delivered {delivered:N0}, lost {lost:N0}, duplicates dropped by clients {duplicates:N0}");
        foreach (var id in lostIds.Take(20))
        {
            Console.WriteLine($"  lost: message {id}");
        }

        Console.WriteLine($"throughput: {delivered / elapsed:N0} delivered/s over {elapsed:0.0}s ({confirmed.Count / sendSeconds:N0} confirmed/s while sending)");
        Console.WriteLine($"send->SUCCESS  ms: {Percentiles(ackLatency)}");
        Console.WriteLine($"send->delivery ms: {Percentiles(deliveryLatency)}");
        foreach (var (pid, seconds) in cpu)
        {
            var role = pid == Environment.ProcessId ? " (load generator)" : "";
            Console.WriteLine($"cpu {ProcessStats.Name(pid)}[{pid}]{role}: {seconds:0.00}s = {seconds / elapsed * 100:0}% of a core, {(delivered > 0 ? seconds * 1e6 / delivered : 0):0.0} us per delivered message");
        }

        if (cpu.Count > 0)
        {
            var total = cpu.Where(c => c.Key != Environment.ProcessId).Sum(c => c.Value);
            Console.WriteLine($"cpu node and store: {total * 1e6 / Math.Max(1, delivered):0.0} us per delivered message");
        }

        await Task.WhenAll(senders.Concat(recipients).Select(c => c.DisposeAsync().AsTask()));
        return lost > 0 || failed > 0 ? 1 : 0;

        async Task SendLoopAsync(int pair)
        {
            using var window = new SemaphoreSlim(options.Window);
            var inFlight = new List<Task>();
            var next = Stopwatch.GetTimestamp();
            while (!stopSending.IsCancellationRequested && Interlocked.Read(ref sent) < options.MaxMessages)
            {
                try
                {
                    await window.WaitAsync(stopSending.Token);
                    if (perSenderInterval > TimeSpan.Zero)
                    {
                        next += (long)(perSenderInterval.TotalSeconds * Stopwatch.Frequency);
                        var wait = TimeSpan.FromSeconds((double)(next - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
                        if (wait > TimeSpan.Zero)
                        {
                            await Task.Delay(wait, stopSending.Token);
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                Interlocked.Increment(ref sent);
                inFlight.Add(SendOneAsync(pair, window));
                inFlight.RemoveAll(t => t.IsCompleted);
            }

            await Task.WhenAll(inFlight);
        }

        async Task SendOneAsync(int pair, SemaphoreSlim window)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                var result = await senders[pair].SendMessageAsync(chats[pair], start.ToString(CultureInfo.InvariantCulture) + " payload", cancellationToken: CancellationToken.None);
                ackLatency.RecordValue(Math.Max(1, Stopwatch.GetTimestamp() - start));
                confirmed.TryAdd(result.MessageId, 0);
            }
            catch (Exception ex) when (ex is ChatConnectionException or ChatErrorException)
            {
                Interlocked.Increment(ref failed);
            }
            finally
            {
                window.Release();
            }
        }
    }

    private static async Task<ChatClient> Connect(BenchOptions options, TokenService tokens, string user, CancellationToken cancellationToken)
    {
        var token = tokens.Mint(user, "bench", TimeSpan.FromHours(2));
        return await ChatClient.ConnectAsync(new ChatClientOptions { Url = options.Url, TokenProvider = _ => ValueTask.FromResult(token) }, cancellationToken);
    }

    internal static string Percentiles(HistogramBase histogram)
    {
        double Ms(double percentile) => histogram.GetValueAtPercentile(percentile) * 1000.0 / Stopwatch.Frequency;
        return histogram.TotalCount == 0
            ? "no samples"
            : $"p50 {Ms(50):0.00}  p90 {Ms(90):0.00}  p99 {Ms(99):0.00}  p99.9 {Ms(99.9):0.00}  max {histogram.GetMaxValue() * 1000.0 / Stopwatch.Frequency:0.00}";
    }
}
