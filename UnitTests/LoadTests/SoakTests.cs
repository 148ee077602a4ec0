using ChatNode.LoadTests.Engine;
using ChatNode.LoadTests.Reports;
using ChatNode.LoadTests.Scenarios;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.LoadTests;

/// <summary>
/// A short soak: a local fleet of real node processes on the real etcd and Redis Cluster, the mixed load with idle
/// clients, and every fault once (join, admin drain, SIGTERM, SIGKILL, a Redis master killed, an etcd outage). Nothing
/// confirmed may be lost, nothing shown twice, and every client a fault cut off must be served again.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SoakTests
{
    [Test]
    public async Task Every_fault_in_turn_loses_nothing_and_shows_nothing_twice()
    {
        // Faster transitions than production (short handoff window and lease) keep the run short; the mechanics are the same.
        var options = LoadOptions.Parse("soak",
        [
            "--local", "3",
            "--node-setting", "Node:HandoffWindow=00:00:02",
            "--node-setting", "Registry:LeaseTtl=00:00:02",
            "--faults", "join,drain,sigterm,kill,redis-master,etcd",
            "--fault-every", "5s",
            "--settle", "2s",
            "--idle", "60",
            "--pairs", "10", "--groups", "1", "--group-size", "5", "--rate", "100", "--ramp", "0s",
            "--warmup", "0s", "--duration", "60s",
        ]);
        using var soak = Scenario.Create("soak");
        await using var fleet = await LocalFleet.StartAsync(options.LocalNodes, options.NodeSettings, TestContext.Progress.WriteLine);
        options.Url = fleet.Url;
        options.Seeds = fleet.Seeds;
        options.Secret = fleet.Secret;

        // The run ends after the fault in progress at --duration: six faults, each given about as long as it needs.
        var report = await Poll.WithinAsync(
            global::ChatNode.LoadTests.Program.ExecuteAsync(options, soak, tick => TestContext.Progress.WriteLine(tick.ToLine()), TestContext.Progress.WriteLine, fleet, CancellationToken.None),
            "the soak", TimeSpan.FromMinutes(5));

        foreach (var fault in report.Faults!)
        {
            TestContext.Progress.WriteLine($"{fault.Kind} {fault.Target}: cut off {fault.Affected}, served again {fault.ServedAgain}, moved {fault.Moved}, error {fault.Error}");
        }

        Assert.That(report.Lost, Is.Zero, string.Join('\n', report.LostSample));
        Assert.That(report.Duplicated, Is.Zero);
        Assert.That(report.Acked, Is.GreaterThan(0));
        Assert.That(report.Delivered, Is.EqualTo(report.ExpectedDeliveries), "every confirmed delivery arrived");
        Assert.That(report.Faults!.Select(f => f.Kind).Where(k => k != "restart").Distinct(), Is.EquivalentTo(options.Faults), "every fault was injected");
        Assert.That(report.Faults!.Count(f => f.Kind == "restart"), Is.EqualTo(2), "the nodes stopped by SIGTERM and SIGKILL came back (the drained one was the joined one)");
        Assert.That(report.Faults!.Where(f => f.Error is not null), Is.Empty, "every fault was injected without error");
        foreach (var fault in report.Faults!.Where(f => f.Kind is "drain" or "sigterm" or "kill"))
        {
            Assert.That(fault.Affected, Is.GreaterThan(0), $"{fault.Kind}: the node held clients");
            Assert.That(fault.ServedAgain, Is.EqualTo(fault.Affected), $"{fault.Kind}: every client it held was served again");
        }

        foreach (var fault in report.Faults!.Where(f => f.Kind is "join" or "restart"))
        {
            Assert.That(fault.Moved, Is.GreaterThan(0), $"{fault.Kind}: clients moved to the node that (re)joined");
        }
    }
}
