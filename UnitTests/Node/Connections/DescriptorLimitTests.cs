using ChatNode.Connections;
using ChatNode.Endpoints;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node.Connections;

/// <summary>How the node sizes its connection limit and its client listener's socket limit from the descriptor limit.</summary>
[TestFixture]
[Fast]
public sealed class DescriptorLimitTests
{
    [Test]
    public void The_soft_limit_is_read_from_the_limits_file()
    {
        string[] limits =
        [
            "Limit                     Soft Limit           Hard Limit           Units     ",
            "Max processes             192730               192730               processes ",
            "Max open files            20000                20000                files     ",
            "Max locked memory         8388608              8388608              bytes     ",
        ];
        Assert.That(DescriptorLimit.Parse(limits), Is.EqualTo(20_000));
        Assert.That(DescriptorLimit.Parse(["Max open files            unlimited            unlimited            files"]), Is.Null);
        Assert.That(DescriptorLimit.Parse([]), Is.Null);
        Assert.That(DescriptorLimit.Read(), Is.GreaterThan(0), "this process's own limit");
    }

    [TestCase(20_000, 19_000)]
    [TestCase(1_048_576, 996_148)]
    [TestCase(1_024, 768)]
    public void Connections_leave_a_twentieth_of_the_descriptors_and_at_least_256(long descriptors, int connections)
    {
        Assert.That(DescriptorLimit.ConnectionsUnder(descriptors), Is.EqualTo(connections));
        Assert.That(new ConnectionOptions().ConnectionLimit(descriptors), Is.EqualTo(connections), "the default");
        Assert.That(new ConnectionOptions { MaxConnections = 500 }.ConnectionLimit(descriptors), Is.EqualTo(500), "set explicitly");
    }

    [Test]
    public void The_client_listener_keeps_half_the_spare_descriptors_for_sockets_above_the_connection_limit()
    {
        Assert.That(SocketLimit.For(new ConnectionOptions(), 20_000), Is.EqualTo(19_500), "19,000 WebSockets, 500 more sockets, 500 descriptors for the rest");
        Assert.That(SocketLimit.For(new ConnectionOptions { MaxConnections = 5_000 }, 20_000), Is.EqualTo(12_500));
        Assert.That(SocketLimit.For(new ConnectionOptions { MaxConnections = 30_000 }, 20_000), Is.EqualTo(30_000), "a limit set above the descriptors is the operator's");
        Assert.That(SocketLimit.For(new ConnectionOptions(), null), Is.Null, "unknown descriptors, no limit set");
        Assert.That(SocketLimit.For(new ConnectionOptions { MaxConnections = 100 }, null), Is.EqualTo(1_100));
    }
}
