using ChatNode.LoadTests.Engine;

namespace ChatNode.LoadTests.Scenarios;

/// <summary>
/// A load scenario: sets up clients and chats, then the runner calls <see cref="SendOneAsync"/> as the load simulation
/// dictates (open or closed loop). Scenarios that are not about messages override <see cref="RunAsync"/>.
/// </summary>
public abstract class Scenario : IDisposable
{
    public abstract string Name { get; }

    public virtual Task SetupAsync(LoadContext context, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>One operation; <paramref name="index"/> counts operations from 0.</summary>
    public virtual Task SendOneAsync(LoadContext context, long index, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>After the load, before the completeness check (the offline scenario reconnects its recipients here).</summary>
    public virtual Task AfterLoadAsync(LoadContext context, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Scenario-specific results for the report (name to value).</summary>
    public virtual Dictionary<string, double> Extra { get; } = [];

    /// <summary>The faults the scenario injected (the soak).</summary>
    public virtual IReadOnlyList<Reports.FaultReport> Faults => [];

    /// <summary>True when the scenario drives its own load instead of sends (connect).</summary>
    public virtual bool OwnsLoad => false;

    public virtual Task RunAsync(LoadContext context, CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    public static Scenario Create(string name) => name switch
    {
        "direct" => new DirectScenario(),
        "group" => new GroupScenario(),
        "offline" => new OfflineScenario(),
        "mixed" => new MixedScenario(),
        "connect" => new ConnectScenario(),
        "soak" => new SoakScenario(),
        "abuse" => new AbuseScenario(),
        _ => throw new ArgumentException($"unknown scenario '{name}'"),
    };

    /// <summary>Runs <paramref name="count"/> setup steps, at most 50 at a time.</summary>
    protected static async Task ForEachAsync(int count, Func<int, Task> step, CancellationToken cancellationToken)
    {
        using var limit = new SemaphoreSlim(50);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await limit.WaitAsync(cancellationToken);
            try
            {
                await step(i);
            }
            finally
            {
                limit.Release();
            }
        }));
    }
}
