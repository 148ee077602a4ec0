using ChatNode.Lifecycle;
using ChatNode.Storage;
using Microsoft.Extensions.Logging;

namespace ChatNode.Hosting;

/// <summary>Connects to the store first (<see cref="LifecycleStage.Store"/>), so a node without a store never looks ready.</summary>
internal sealed class StoreWarmup(IStoreHealth store, ILogger<StoreWarmup> logger) : ILifecycleParticipant
{
    public LifecycleStage Stage => LifecycleStage.Store;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var (ready, reason) = await store.CheckAsync(cancellationToken).ConfigureAwait(false);
        if (!ready)
        {
            HostingLog.StoreNotReady(logger, reason);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
