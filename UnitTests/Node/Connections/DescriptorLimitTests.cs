using ChatNode.Connections;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node.Connections;

/// <summary>How the node sizes its connection limit from the descriptor limit.</summary>
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
}
