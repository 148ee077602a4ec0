using ChatNode.Auth;
using ChatNode.Commands;
using ChatNode.Connections;
using ChatNode.Delivery;
using ChatNode.Fleet;
using ChatNode.Hosting;
using ChatNode.Peering;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ChatNode.Storage.Memory;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node.Hosting;

[TestFixture]
[Fast]
public sealed class OptionsTests
{
    private static ServiceProvider Services(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new ServiceCollection().AddLogging().AddChatNode(configuration).BuildServiceProvider();
    }

    [Test]
    public void The_defaults_are_valid_and_name_a_node()
    {
        using var services = Services(new() { ["Auth:Secret"] = "0123456789abcdef", ["Auth:FleetSecret"] = "fedcba9876543210" });
        Assert.That(services.GetRequiredService<IOptions<FleetOptions>>().Value.NodeId, Is.Not.Empty);
        var limits = services.GetRequiredService<IOptions<CommandOptions>>().Value;
        Assert.That((limits.MaxParticipants, limits.MaxClientsPerUser), Is.EqualTo((100, 3)));
        Assert.That(services.GetRequiredService<IOptions<ConnectionOptions>>().Value.MaxFrameBytes, Is.EqualTo(64 * 1024));
        Assert.That(services.GetRequiredService<IOptions<DeliveryOptions>>().Value.RedeliveryTimeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That(services.GetRequiredService<IOptions<PeerOptions>>().Value.PeerBatchSize, Is.EqualTo(256));
    }

    [Test]
    public void Every_option_class_reads_the_documented_keys_of_the_Node_section()
    {
        using var services = Services(new()
        {
            ["Auth:Secret"] = "0123456789abcdef", ["Auth:FleetSecret"] = "fedcba9876543210",
            ["Node:NodeId"] = "n7",
            ["Node:MaxParticipants"] = "50",
            ["Node:OutboundBudgetBytes"] = "2097152",
            ["Node:SweepInterval"] = "00:00:02",
            ["Node:PeerQueueCapacity"] = "77",
            ["Node:Listen"] = "http://127.0.0.1:9999",
        });
        Assert.That(services.GetRequiredService<IOptions<FleetOptions>>().Value.NodeId, Is.EqualTo("n7"));
        Assert.That(services.GetRequiredService<IOptions<CommandOptions>>().Value.MaxParticipants, Is.EqualTo(50));
        Assert.That(services.GetRequiredService<IOptions<ConnectionOptions>>().Value.OutboundBudgetBytes, Is.EqualTo(2097152));
        Assert.That(services.GetRequiredService<IOptions<DeliveryOptions>>().Value.SweepInterval, Is.EqualTo(TimeSpan.FromSeconds(2)));
        Assert.That(services.GetRequiredService<IOptions<PeerOptions>>().Value.PeerQueueCapacity, Is.EqualTo(77));
        Assert.That(services.GetRequiredService<IOptions<NodeOptions>>().Value.Listen, Is.EqualTo("http://127.0.0.1:9999"));
    }

    [Test]
    public void Inconsistent_limits_are_refused_with_the_setting_named()
    {
        using var commands = Services(new()
        {
            ["Auth:Secret"] = "0123456789abcdef", ["Auth:FleetSecret"] = "fedcba9876543210",
            ["Node:MaxTextBytes"] = "70000",
            ["Node:MaxParticipants"] = "1",
        });
        var refused = Assert.Throws<OptionsValidationException>(() => _ = commands.GetRequiredService<IOptions<CommandOptions>>().Value)!;
        Assert.That(refused.Message, Does.Contain("MaxTextBytes").And.Contain("MaxParticipants"));

        using var connections = Services(new() { ["Auth:Secret"] = "0123456789abcdef", ["Auth:FleetSecret"] = "fedcba9876543210", ["Node:OutboundBudgetBytes"] = "10" });
        refused = Assert.Throws<OptionsValidationException>(() => _ = connections.GetRequiredService<IOptions<ConnectionOptions>>().Value)!;
        Assert.That(refused.Message, Does.Contain("OutboundBudgetBytes"));
    }

    [Test]
    public void A_missing_or_short_secret_is_refused()
    {
        using var services = Services([]);
        var refused = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<AuthOptions>>().Value)!;
        Assert.That(refused.Message, Does.Contain("Auth:Secret"));
    }
}

[TestFixture]
[Fast]
public sealed class StorageWiringTests
{
    [Test]
    public void A_node_on_the_in_memory_store_runs_nothing_of_the_redis_backend()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Auth:Secret"] = "0123456789abcdef", ["Auth:FleetSecret"] = "fedcba9876543210" }).Build();
        var services = new ServiceCollection().AddLogging().AddChatNode(configuration);
        Assert.That(services.Any(IsRedisBackgroundWork), Is.True, "the node registers the Redis backend's background work");

        services.UseInMemoryStorage(new InMemoryStore());
        Assert.That(services.Where(IsRedisBackgroundWork).Select(d => d.ImplementationType), Is.Empty,
            "nothing started at the node's start may open a connection to a store it does not use");
    }

    private static bool IsRedisBackgroundWork(ServiceDescriptor d) =>
        d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) && d.ImplementationType?.Namespace == "ChatNode.Storage.Redis";
}
