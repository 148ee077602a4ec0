using ChatNode.Connections;
using ChatNode.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Hosting;

/// <summary>
/// On stop, before Kestrel stops: closes every connection with <see cref="CloseCode.Shutdown"/> after flushing what
/// is queued, and waits (up to <see cref="ChatNodeOptions.ShutdownTimeout"/>) for them to end. What is unacknowledged
/// stays in the inboxes. Idempotent.
/// </summary>
internal sealed class ConnectionDrainer : IHostedService
{
    private readonly ConnectionRegistry _registry;
    private readonly ChatNodeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ConnectionDrainer> _logger;

    public ConnectionDrainer(ConnectionRegistry registry, IOptions<ChatNodeOptions> options, TimeProvider time, ILogger<ConnectionDrainer> logger)
    {
        _registry = registry;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
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
