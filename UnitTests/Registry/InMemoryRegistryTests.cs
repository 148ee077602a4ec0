using ChatNode.Registry;
using ChatNode.Registry.Memory;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ChatNode.UnitTests.Registry;

/// <summary>The registry contract against the in-memory membership, on a fake clock.</summary>
[TestFixture]
[Fast]
public sealed class InMemoryRegistryTests : ClusterRegistryContractTests
{
    private FakeTimeProvider _clock = null!;
    private InMemoryMembership _membership = null!;

    [SetUp]
    public void NewMembership()
    {
        _clock = new FakeTimeProvider();
        _membership = new InMemoryMembership(_clock);
    }

    [TearDown]
    public void DisposeMembership() => _membership.Dispose();

    protected override IClusterRegistry CreateMember() => _membership.CreateRegistry(LeaseTtl);

    protected override Task CrashAsync(IClusterRegistry member)
    {
        ((InMemoryRegistry)member).Abandon();
        return Task.CompletedTask;
    }

    // In small steps, so every keep-alive timer fires on time as it would on a real clock.
    protected override void Elapse(TimeSpan time)
    {
        for (var passed = TimeSpan.Zero; passed < time; passed += TimeSpan.FromMilliseconds(100))
        {
            _clock.Advance(TimeSpan.FromMilliseconds(100));
        }
    }
}
