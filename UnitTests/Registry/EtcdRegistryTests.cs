using ChatNode.Registry;
using ChatNode.Registry.Etcd;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ChatNode.UnitTests.Registry;

/// <summary>The registry contract against the real etcd started by scripts/services.sh.</summary>
[TestFixture]
public sealed class EtcdRegistryTests : ClusterRegistryContractTests
{
    private string _prefix = "";

    [SetUp]
    public void NewPrefix() => _prefix = $"/chatnode-test/{Guid.NewGuid():N}/";

    protected override IClusterRegistry CreateMember() => new EtcdRegistry(
        Options.Create(new RegistryOptions { Endpoints = TestEnvironment.EtcdEndpoint, Prefix = _prefix, LeaseTtl = LeaseTtl }),
        NullLogger<EtcdRegistry>.Instance);

    protected override Task CrashAsync(IClusterRegistry member) => ((EtcdRegistry)member).AbandonForTestsAsync();

    protected override void Elapse(TimeSpan time)
    {
        // Real time: the polls wait for it.
    }
}
