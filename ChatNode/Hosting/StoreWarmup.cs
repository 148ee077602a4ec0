using ChatNode.Diagnostics;
using ChatNode.Lifecycle;
using ChatNode.Storage;
using Microsoft.Extensions.Logging;

namespace ChatNode.Hosting;

/// <summary>
/// Connects to the store first (<see cref="LifecycleStage.Store"/>), so a node without a store never looks ready. Takes
/// the metrics exporter too, so that it listens from the start and counts what happens before the first scrape.
/// </summary>
internal sealed class StoreWarmup(IStoreHealth store, PrometheusExporter exporter, ILogger<StoreWarmup> logger) : ILifecycleParticipant
{
    public LifecycleStage Stage => LifecycleStage.Store;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _ = exporter;
        var (ready, reason) = await store.CheckAsync(cancellationToken).ConfigureAwait(false);
        if (!ready)
        {
            HostingLog.StoreNotReady(logger, reason);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
