using ChatNode.Connections;
using ChatNode.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Fleet;

/// <summary>
/// Closes every connection with <see cref="CloseCode.Shutdown"/> after flushing what is queued, and waits (up to
/// <see cref="ConnectionOptions.ShutdownTimeout"/>) for them to end, then aborts the rest. What is unacknowledged stays
/// in the inboxes. Called by <see cref="NodeLifecycle"/> at the end of a drain, after the node left the ring.
/// </summary>
internal sealed class ConnectionDrainer
{
    private readonly ConnectionRegistry _registry;
    private readonly ConnectionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ConnectionDrainer> _logger;

    public ConnectionDrainer(ConnectionRegistry registry, IOptions<ConnectionOptions> options, TimeProvider time, ILogger<ConnectionDrainer> logger)
    {
        _registry = registry;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        var connections = _registry.Snapshot();
        FleetLog.ClosingConnections(_logger, connections.Count);
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
