using ChatNode.Connections;
using ChatNode.Diagnostics;
using ChatNode.Fleet;
using ChatNode.Registry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Hosting;

/// <summary>
/// On stop, before any hosted service stops (Kestrel included, which would otherwise wait for the WebSockets and then
/// abort them): closes every connection with <see cref="CloseCode.Shutdown"/> after flushing what is queued, and
/// waits (up to <see cref="ChatNodeOptions.ShutdownTimeout"/>) for them to end. What is unacknowledged stays in the
/// inboxes. Idempotent.
/// </summary>
internal sealed class ConnectionDrainer : IHostedLifecycleService
{
    private readonly ConnectionRegistry _registry;
    private readonly IClusterRegistry _fleet;
    private readonly Ownership _ownership;
    private readonly ChatNodeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ConnectionDrainer> _logger;

    public ConnectionDrainer(ConnectionRegistry registry, IClusterRegistry fleet, Ownership ownership, IOptions<ChatNodeOptions> options, TimeProvider time, ILogger<ConnectionDrainer> logger)
    {
        _ownership = ownership;
        _registry = registry;
        _fleet = fleet;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs before every hosted service's StopAsync, so connections close while Kestrel still serves them.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // Leave the ring first, so that reconnecting clients are routed to the nodes that own their users now; the
        // ring change this causes must not redirect (4000) the connections the drain is about to close (4002).
        _ownership.Leaving = true;
        await _fleet.DeregisterAsync(cancellationToken).ConfigureAwait(false);
        var connections = _registry.Snapshot();
        ChatLog.ClosingConnections(_logger, connections.Count);
        foreach (var connection in connections)
        {
            connection.Close(CloseCode.Shutdown, "node shutting down");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.ShutdownTimeout);
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(50), _time);
        try
        {
            while (_registry.Count > 0 && await poll.WaitForNextTickAsync(deadline.Token).ConfigureAwait(false))
            {
            }
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var connection in _registry.Snapshot())
        {
            connection.Abort();
        }
    }
}
