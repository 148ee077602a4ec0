using ChatNode.Lifecycle;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ChatNode.Hosting;

/// <summary>
/// Runs every <see cref="ILifecycleParticipant"/> in <see cref="LifecycleStage"/> order. The stages below
/// <see cref="LifecycleStage.Serve"/> start before any hosted service (Kestrel included) starts; the serving stages
/// after Kestrel listens. Stop runs in reverse: the serving stages before Kestrel stops (so connections drain while it
/// still serves them), the rest after. Participants of one stage start in registration order and stop in reverse.
/// A participant whose start failed is not stopped; every one that started is, also when a later one failed.
/// </summary>
internal sealed class StagedLifecycle : IHostedLifecycleService
{
    private readonly ILifecycleParticipant[] _participants;
    private readonly ILogger<StagedLifecycle> _logger;
    private readonly Stack<ILifecycleParticipant> _started = new();
    private readonly object _gate = new();

    public StagedLifecycle(IEnumerable<ILifecycleParticipant> participants, ILogger<StagedLifecycle> logger)
    {
        // OrderBy is stable: within a stage, registration order.
        _participants = [.. participants.OrderBy(p => p.Stage)];
        _logger = logger;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => StartAsync(p => p.Stage < LifecycleStage.Serve, cancellationToken);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => StartAsync(p => p.Stage >= LifecycleStage.Serve, cancellationToken);

    public Task StoppingAsync(CancellationToken cancellationToken) => StopAsync(LifecycleStage.Serve, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => StopAsync(0, cancellationToken);

    private async Task StartAsync(Func<ILifecycleParticipant, bool> which, CancellationToken cancellationToken)
    {
        foreach (var participant in _participants.Where(which))
        {
            HostingLog.StageStarting(_logger, participant.Stage, participant.GetType().Name);
            await participant.StartAsync(cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                _started.Push(participant);
            }
        }
    }

    // Stops, newest first, every started participant at or above `lowest`. A failure is logged and the others still stop.
    private async Task StopAsync(LifecycleStage lowest, CancellationToken cancellationToken)
    {
        while (true)
        {
            ILifecycleParticipant participant;
            lock (_gate)
            {
                if (!_started.TryPeek(out participant!) || participant.Stage < lowest)
                {
                    return;
                }

                _started.Pop();
            }

            try
            {
                HostingLog.StageStopping(_logger, participant.Stage, participant.GetType().Name);
                await participant.StopAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                HostingLog.StopFailed(_logger, participant.GetType().Name, ex);
            }
        }
    }
}
