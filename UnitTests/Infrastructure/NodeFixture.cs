namespace ChatNode.UnitTests.Infrastructure;

/// <summary>
/// A fixture whose tests share one real node, started once and stopped at the end (also on failure). Fixtures that
/// take a <see cref="StoreBackend"/> run twice: on the real Redis Cluster, and on the in-memory store in the fast tier.
/// </summary>
public abstract class NodeFixture(StoreBackend backend = StoreBackend.Redis)
{
    protected TestNode Node { get; private set; } = null!;

    protected StoreBackend Backend { get; } = backend;

    /// <summary>Configuration overrides for the fixture's node.</summary>
    protected virtual IDictionary<string, string?>? Settings => null;

    [OneTimeSetUp]
    public async Task StartNode() => Node = await TestNode.StartAsync(Settings, Backend);

    [OneTimeTearDown]
    public async Task StopNode() => await Node.DisposeAsync();
}
