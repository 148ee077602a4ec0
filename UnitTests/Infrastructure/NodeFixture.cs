namespace ChatNode.UnitTests.Infrastructure;

/// <summary>A fixture whose tests share one real node, started once and stopped at the end (also on failure).</summary>
public abstract class NodeFixture
{
    protected TestNode Node { get; private set; } = null!;

    /// <summary>Configuration overrides for the fixture's node.</summary>
    protected virtual IDictionary<string, string?>? Settings => null;

    [OneTimeSetUp]
    public async Task StartNode() => Node = await TestNode.StartAsync(Settings);

    [OneTimeTearDown]
    public async Task StopNode() => await Node.DisposeAsync();
}
