using System.Diagnostics.CodeAnalysis;

namespace ChatNode.Lifecycle;

/// <summary>
/// One owned background task: <see cref="Start"/> runs the loop with a token that <see cref="StopAsync"/> cancels, and
/// <see cref="StopAsync"/> awaits the loop. Each start-stop pair owns one cancellation source, disposed by the stop.
/// The loop ends quietly on that cancellation; any other failure surfaces at stop. Not thread-safe: its owner starts
/// and stops it.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "The cancellation source lives from Start to StopAsync, which disposes it.")]
public sealed class BackgroundLoop(Func<CancellationToken, Task> loop)
{
    private CancellationTokenSource? _stop;
    private Task _task = Task.CompletedTask;

    public bool IsRunning => _stop is not null;

    /// <summary>A loop that runs <paramref name="tick"/> once every <paramref name="period"/> (the first after one period) until stopped.</summary>
    public static BackgroundLoop Every(TimeSpan period, TimeProvider time, Func<CancellationToken, Task> tick) =>
        new(async stoppingToken =>
        {
            using var timer = new PeriodicTimer(period, time);
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await tick(stoppingToken).ConfigureAwait(false);
            }
        });

    public void Start()
    {
        if (_stop is not null)
        {
            throw new InvalidOperationException("The loop is already running.");
        }

        _stop = new CancellationTokenSource();
        var token = _stop.Token;
        _task = Task.Run(() => loop(token), CancellationToken.None);
    }

    public async Task StopAsync()
    {
        if (_stop is not { } stop)
        {
            return;
        }

        _stop = null;
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _task.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            stop.Dispose();
        }
    }
}
