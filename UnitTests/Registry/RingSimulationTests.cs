using System.Diagnostics;
using ChatNode.Fleet;
using ChatNode.Registry;
using ChatNode.Registry.Ring;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Registry;

/// <summary>
/// The ring at fleet scale, the numbers behind docs/capacity.md: 1,000 nodes with the default virtual-node count
/// (<see cref="RegistryOptions.VirtualNodes"/>, 128), 100,000 sampled user ids, the real <see cref="HashRing"/>.
/// Checks balance, what one join and one failure move, and what a day of crashes and a rolling deploy moves against
/// the minimum, and prints the results scaled to 1 billion connected users (run with
/// <c>--logger "console;verbosity=detailed"</c> to see them).
/// </summary>
/// <remarks>
/// <para>
/// What the bounds rest on. The P = N·V points are independent uniform hashes, so the arcs between them are the
/// spacings of P uniform points and a node's share (the sum of its V arcs) is Beta(V, P - V): mean 1/N, and
/// N × share is close to Gamma(V)/V, with a coefficient of variation of 1/√V (0.088 for V = 128). Its quantiles follow
/// from Wilson-Hilferty: (1 - 1/(9V) + z/(3√V))³. The expected largest of 1,000 nodes (z ≈ 3.2) is 1.30 × the mean
/// and the expected smallest 0.74 ×; the bounds use z = ±5 (1.51 and 0.62 for V = 128), so that a correct ring fails
/// with a chance of about 1,000 × 2 × 2.9e-7 ≈ 6e-4 whatever the node ids, while a ring that lost its virtual nodes
/// (max ≈ 7.5 × with one point per node) or correlated them (a wider spread) fails.
/// </para>
/// <para>
/// A join takes the key space between each of its V points and the previous point: its share is one more draw of the
/// same distribution (so 1/(N+1) of the keys within the same bounds), taken from the owners of the points that follow
/// its points, about N(1 - (1 - 1/N)^V) ≈ 120 distinct nodes for V = 128. A failure hands each of its V arcs to the
/// owner of the next point: the same ≈ 120 receivers, each getting about one arc, an Exp-distributed 1/V of the share
/// (more than 20/V of it has a chance of about V·e^-20 ≈ 3e-7). Keys are sampled, so a node's key count is Poisson
/// around share × keys: 100 keys per node on average, ±10 %, on top of the ±8.8 % of the share.
/// </para>
/// <para>
/// Ids and keys come from SplitMix64 with fixed seeds, a sequence defined here rather than by the runtime's
/// <see cref="Random"/>, so every run moves the same keys and prints the same table.
/// </para>
/// </remarks>
[TestFixture]
[Fast]
public sealed class RingSimulationTests
{
    private const int NodeCount = 1000;
    private const int KeyCount = 100_000;
    private const ulong KeySeed = 20_261_201;
    private const ulong CrashSeed = 20_261_202;

    // Per-node bounds on a share: 5 standard deviations (see the remarks).
    private const double ShareSigmas = 5;

    // Bounds on one aggregate statistic (a count, a sum, a spread): 6 standard deviations.
    private const double Sigmas = 6;

    // Two shares differ when a split arc changed hands: the smallest arcs of 128,000 points are ~1e-10 of the circle,
    // the rounding of a share's sum below 1e-16.
    private const double Epsilon = 1e-12;

    // The day: 1 % of the nodes crash and come back under the same id (a StatefulSet restarts the pod), and one rolling
    // deploy restarts every node, a wave of 5 % at a time (drain, then rejoin under the same id).
    private const int Crashes = 10;
    private const int WaveSize = 50;

    // The sizing input of docs/capacity.md: 1 billion connected users over the fleet.
    private const double FleetUsers = 1e9;

    private static readonly int VirtualNodes = new RegistryOptions().VirtualNodes;

    private string[] _keys = [];
    private NodeInfo[] _nodes = [];
    private HashRing _ring = null!;
    private string[] _owners = [];
    private readonly Dictionary<string, int> _keysOf = new(StringComparer.Ordinal);

    [OneTimeSetUp]
    public void BuildTheFleet()
    {
        var random = new SplitMix64(KeySeed);
        _keys = new string[KeyCount];
        for (var i = 0; i < KeyCount; i++)
        {
            _keys[i] = $"u{random.Next():x16}";
        }

        _nodes = [.. Enumerable.Range(0, NodeCount).Select(i => Node(NodeId(i)))];
        _ring = new HashRing(_nodes);
        _owners = Owners(_ring);
        _keysOf.Clear();
        foreach (var owner in _owners)
        {
            _keysOf[owner] = _keysOf.GetValueOrDefault(owner) + 1;
        }
    }

    [Test]
    public void Every_node_of_a_thousand_owns_a_share_within_the_bounds_its_virtual_nodes_allow()
    {
        var shares = _ring.Shares();
        var normalized = shares.Values.Select(s => s * NodeCount).ToArray();
        var (lower, upper) = ShareBounds();
        var max = normalized.Max();
        var min = normalized.Min();
        var spread = Math.Sqrt(normalized.Sum(s => (s - 1) * (s - 1)) / NodeCount);
        var expectedSpread = Math.Sqrt((1.0 - (1.0 / NodeCount)) / VirtualNodes);

        // The standard error of a sample standard deviation: √((kurtosis - 1) / 4n), kurtosis 3 + 6/V for a Gamma.
        var spreadError = expectedSpread * Math.Sqrt((2.0 + (6.0 / VirtualNodes)) / (4.0 * NodeCount));

        // OwnerOf must agree with Shares: the sampled keys per node are multinomial over the shares, so Pearson's
        // chi-square has mean N - 1 and variance 2(N - 1). Owning the neighbouring arc instead (a wrong ring direction)
        // adds about 2·keys/(N·V) per node, +1,560 here.
        var chiSquare = 0.0;
        foreach (var (node, share) in shares)
        {
            var expected = share * KeyCount;
            var observed = _keysOf.GetValueOrDefault(node);
            chiSquare += (observed - expected) * (observed - expected) / expected;
        }

        var chiSquareBound = NodeCount - 1 + (Sigmas * Math.Sqrt(2.0 * (NodeCount - 1)));
        var keysMean = (double)KeyCount / NodeCount;

        TestContext.Out.WriteLine($"balance, {NodeCount:N0} nodes x {VirtualNodes} virtual nodes (key space):");
        TestContext.Out.WriteLine($"  largest share {max:F3} x mean (bound {upper:F3}), smallest {min:F3} x (bound {lower:F3})");
        TestContext.Out.WriteLine($"  spread (coefficient of variation) {spread:F4}, expected {expectedSpread:F4} +- {Sigmas * spreadError:F4}");
        TestContext.Out.WriteLine($"  sampled keys per node ({keysMean:F0} on average): most {_keysOf.Values.Max() / keysMean:F2} x, fewest {_keysOf.Values.Min() / keysMean:F2} x; chi-square {chiSquare:F0} (bound {chiSquareBound:F0})");

        Assert.That(shares.Values.Sum(), Is.EqualTo(1.0).Within(1e-9));
        Assert.That(max, Is.LessThanOrEqualTo(upper), "the most loaded node");
        Assert.That(min, Is.GreaterThanOrEqualTo(lower), "the least loaded node");
        Assert.That(spread, Is.EqualTo(expectedSpread).Within(Sigmas * spreadError), "spread of the shares: 1/sqrt(V)");
        Assert.That(_keysOf.Values.Sum(), Is.EqualTo(KeyCount));
        Assert.That(chiSquare, Is.LessThanOrEqualTo(chiSquareBound), "keys land on the nodes in proportion to their shares");
    }

    [Test]
    public void A_join_moves_about_one_key_in_n_plus_1_and_all_of_them_to_the_new_node()
    {
        var joining = Node(NodeId(NodeCount));
        var after = new HashRing([.. _nodes, joining]);
        var owners = Owners(after);
        var moved = 0;
        var movedElsewhere = 0;
        for (var i = 0; i < KeyCount; i++)
        {
            if (owners[i] != _owners[i])
            {
                moved++;
                if (owners[i] != joining.NodeId)
                {
                    movedElsewhere++;
                }
            }
        }

        var before = _ring.Shares();
        var shares = after.Shares();
        var share = shares[joining.NodeId];
        var donors = 0;
        var gainers = 0;
        var given = 0.0;
        foreach (var node in _nodes)
        {
            var change = shares[node.NodeId] - before[node.NodeId];
            if (change < -Epsilon)
            {
                donors++;
                given -= change;
            }
            else if (change > Epsilon)
            {
                gainers++;
            }
        }

        var (lower, upper) = ShareBounds();
        var expectedKeys = share * KeyCount;
        TestContext.Out.WriteLine($"join of {joining.NodeId} to {NodeCount:N0} nodes:");
        TestContext.Out.WriteLine($"  moved {moved:N0} of {KeyCount:N0} keys ({100.0 * moved / KeyCount:F3} %), {movedElsewhere} between old nodes; 1/(N+1) = {100.0 / (NodeCount + 1):F3} %");
        TestContext.Out.WriteLine($"  new node's share {share * (NodeCount + 1):F3} x 1/(N+1) (bounds {lower:F3}-{upper:F3}); taken from {donors} nodes (expected {ExpectedDistinct(NodeCount):F0})");

        Assert.That(movedElsewhere, Is.Zero, "a join moves keys to the new node only");
        Assert.That(gainers, Is.Zero, "no old node gains key space");
        Assert.That(given, Is.EqualTo(share).Within(1e-9), "the old nodes give exactly what the new node takes");
        Assert.That(share * (NodeCount + 1), Is.InRange(lower, upper), "the new node's share against 1/(N+1)");
        Assert.That((double)moved, Is.EqualTo(expectedKeys).Within((Sigmas * Math.Sqrt(expectedKeys)) + 1), "moved keys follow the new node's share");
        Assert.That((double)donors, Is.InRange(SpreadLowerBound(NodeCount), (double)VirtualNodes), "the new node takes from many nodes, at most one per virtual node");
    }

    [Test]
    public void A_failure_moves_exactly_the_failed_nodes_keys_spread_over_many_nodes_and_a_restart_brings_them_back()
    {
        var failed = _nodes[417];
        var survivors = _nodes.Where(n => n != failed).ToArray();
        var after = new HashRing(survivors);
        var (moved, movedFromOthers, receivingNodes) = Compare(after, new HashSet<string>([failed.NodeId], StringComparer.Ordinal));

        var before = _ring.Shares();
        var shares = after.Shares();
        var share = before[failed.NodeId];
        var receivers = 0;
        var losers = 0;
        var received = 0.0;
        var largest = 0.0;
        foreach (var node in survivors)
        {
            var change = shares[node.NodeId] - before[node.NodeId];
            if (change > Epsilon)
            {
                receivers++;
                received += change;
                largest = Math.Max(largest, change);
            }
            else if (change < -Epsilon)
            {
                losers++;
            }
        }

        // A restarted process is a new member with the same id: the same points, so every user returns to its owner.
        var restarted = new HashRing([.. survivors, failed with { Generation = failed.Generation + 1 }]);
        var notBack = Owners(restarted).Where((owner, i) => owner != _owners[i]).Count();

        // A receiver takes about one arc, an Exp-distributed 1/V of the share (see the remarks).
        var largestBound = 20.0 / VirtualNodes;
        TestContext.Out.WriteLine($"failure of {failed.NodeId} among {NodeCount:N0} nodes:");
        TestContext.Out.WriteLine($"  moved {moved:N0} keys: its {_keysOf.GetValueOrDefault(failed.NodeId):N0}, {movedFromOthers} of others; its share {share * NodeCount:F3} x 1/N");
        TestContext.Out.WriteLine($"  key space went to {receivers} nodes (expected {ExpectedDistinct(NodeCount - 1):F0}, at most {VirtualNodes}), the largest taking {100 * largest / share:F1} % of it (bound {100 * largestBound:F1} %); its sampled keys to {receivingNodes} nodes");
        TestContext.Out.WriteLine($"  restart under the same id: {notBack} keys not back with their owner");

        Assert.That(movedFromOthers, Is.Zero, "only the failed node's keys move");
        Assert.That(moved, Is.EqualTo(_keysOf.GetValueOrDefault(failed.NodeId)), "every key of the failed node moves");
        Assert.That(losers, Is.Zero, "no survivor loses key space");
        Assert.That(received, Is.EqualTo(share).Within(1e-9), "the survivors take exactly the failed node's share");
        Assert.That((double)receivers, Is.InRange(SpreadLowerBound(NodeCount - 1), (double)VirtualNodes), "the failed node's arcs go to many nodes, not to one successor");
        Assert.That(largest / share, Is.LessThanOrEqualTo(largestBound), "no survivor takes a large part of the failed node's users");
        Assert.That(notBack, Is.Zero, "a restarted node gets its segments back");
    }

    [Test]
    public void A_day_of_crashes_and_a_rolling_deploy_moves_no_key_it_need_not()
    {
        var buildTime = TimeSpan.Zero;
        var lookupTime = TimeSpan.Zero;
        var builds = 0;

        // Crashes: the node's lease expires (it leaves), then it restarts under its id: the base ring again (the failure
        // test shows that a ring rebuilt with the same members owns every key the same), so the base owners are reused.
        var random = new SplitMix64(CrashSeed);
        var crashed = new List<string>();
        while (crashed.Count < Crashes)
        {
            var id = NodeId((int)(random.Next() % NodeCount));
            if (!crashed.Contains(id))
            {
                crashed.Add(id);
            }
        }

        var crashMoved = new List<int>();
        foreach (var id in crashed)
        {
            var started = Stopwatch.GetTimestamp();
            var ring = new HashRing(_nodes.Where(n => n.NodeId != id));
            buildTime += Stopwatch.GetElapsedTime(started);
            builds++;
            started = Stopwatch.GetTimestamp();
            var (moved, movedFromOthers, _) = Compare(ring, new HashSet<string>([id], StringComparer.Ordinal));
            lookupTime += Stopwatch.GetElapsedTime(started);
            Assert.That(movedFromOthers, Is.Zero, $"crash of {id}: only its keys move");
            Assert.That(moved, Is.EqualTo(_keysOf.GetValueOrDefault(id)), $"crash of {id}: all its keys move");
            crashMoved.Add(moved);
        }

        // The rolling deploy: waves of WaveSize nodes, highest ordinal first as a StatefulSet updates; each wave drains
        // (leaves the ring) and rejoins under the same ids (the base ring again).
        var (_, upper) = ShareBounds();
        var waveMoved = new List<int>();
        var peaks = new List<double>();
        var waveReceivers = new List<int>();
        for (var wave = 0; wave < NodeCount / WaveSize; wave++)
        {
            var leaving = new HashSet<string>(StringComparer.Ordinal);
            for (var j = 0; j < WaveSize; j++)
            {
                leaving.Add(NodeId(NodeCount - 1 - (wave * WaveSize) - j));
            }

            var started = Stopwatch.GetTimestamp();
            var ring = new HashRing(_nodes.Where(n => !leaving.Contains(n.NodeId)));
            buildTime += Stopwatch.GetElapsedTime(started);
            builds++;
            started = Stopwatch.GetTimestamp();
            var (moved, movedFromOthers, receiving) = Compare(ring, leaving);
            lookupTime += Stopwatch.GetElapsedTime(started);
            Assert.That(movedFromOthers, Is.Zero, $"deploy wave {wave}: only the draining nodes' keys move");
            Assert.That(moved, Is.EqualTo(leaving.Sum(id => _keysOf.GetValueOrDefault(id))), $"deploy wave {wave}: all the draining nodes' keys move");
            waveMoved.Add(moved);
            waveReceivers.Add(receiving);

            // The load of the busiest remaining node, against the mean of the whole fleet: what a node must be sized for
            // while a wave is out.
            peaks.Add(ring.Shares().Values.Max() * NodeCount);
        }

        // What must move. Fair share: what a perfectly balanced placement would move, keys/N per node that leaves or
        // joins. A node's key count is Poisson around share × keys and the share varies by 1/√V, so a sum over C nodes
        // has the relative standard deviation √((1 + (keys/N)/V) / (C × keys/N)).
        var fairShare = (double)KeyCount / NodeCount;
        double RelativeError(int nodes) => Math.Sqrt((1.0 + (fairShare / VirtualNodes)) / (nodes * fairShare));
        var crashSum = crashMoved.Sum();
        var deployOut = waveMoved.Sum();
        var dayMoved = (2 * crashSum) + (2 * deployOut);
        var dayFair = (2 * Crashes * fairShare) + (2.0 * NodeCount * fairShare);

        PrintDay(crashMoved, waveMoved, waveReceivers, peaks, fairShare, dayMoved, dayFair);
        TestContext.Out.WriteLine($"  ({builds} rings of ~{NodeCount:N0} nodes built in {buildTime.TotalMilliseconds / builds:F0} ms each; OwnerOf {lookupTime.TotalMilliseconds * 1e6 / ((double)builds * KeyCount):F0} ns per key, on this machine)");
        PrintClientsPerMinute(dayMoved);

        Assert.That(deployOut, Is.EqualTo(KeyCount), "the waves partition the fleet: the deploy moves every key out once (and back once)");
        Assert.That(crashSum / (Crashes * fairShare), Is.EqualTo(1.0).Within(Sigmas * RelativeError(Crashes)), "crashes move about a fair share each");
        foreach (var moved in waveMoved)
        {
            Assert.That(moved / (WaveSize * fairShare), Is.EqualTo(1.0).Within(Sigmas * RelativeError(WaveSize)), "a wave moves about its fair share");
        }

        Assert.That(dayMoved / dayFair, Is.EqualTo(1.0).Within(Sigmas * 2 * Crashes * fairShare * RelativeError(Crashes) / dayFair), "the day moves what a balanced placement would");
        Assert.That(peaks.Max(), Is.LessThanOrEqualTo(upper * NodeCount / (NodeCount - WaveSize)), "the busiest node while a wave is out: the share bound over the remaining nodes");
    }

    private static void PrintDay(List<int> crashMoved, List<int> waveMoved, List<int> waveReceivers, List<double> peaks, double fairShare, double dayMoved, double dayFair)
    {
        var crashSum = crashMoved.Sum();
        var deployOut = waveMoved.Sum();
        TestContext.Out.WriteLine($"a day of {NodeCount:N0} nodes, {KeyCount:N0} sampled users ({fairShare:F0} per node):");
        TestContext.Out.WriteLine($"  {"change",-34} {"count",6} {"keys moved",11} {"per change",11} {"fair share",11} {"ratio",6}");
        TestContext.Out.WriteLine($"  {"crash: node leaves (lease expires)",-34} {Crashes,6} {crashSum,11:N0} {crashSum / (double)Crashes,11:F1} {fairShare,11:F1} {crashSum / (Crashes * fairShare),6:F3}");
        TestContext.Out.WriteLine($"  {"crash: node restarts, same id",-34} {Crashes,6} {crashSum,11:N0} {crashSum / (double)Crashes,11:F1} {fairShare,11:F1} {crashSum / (Crashes * fairShare),6:F3}");
        TestContext.Out.WriteLine($"  {$"deploy: wave of {WaveSize} drains",-34} {waveMoved.Count,6} {deployOut,11:N0} {deployOut / (double)waveMoved.Count,11:F1} {WaveSize * fairShare,11:F1} {deployOut / (waveMoved.Count * WaveSize * fairShare),6:F3}");
        TestContext.Out.WriteLine($"  {$"deploy: wave of {WaveSize} rejoins",-34} {waveMoved.Count,6} {deployOut,11:N0} {deployOut / (double)waveMoved.Count,11:F1} {WaveSize * fairShare,11:F1} {deployOut / (waveMoved.Count * WaveSize * fairShare),6:F3}");
        TestContext.Out.WriteLine($"  {"day",-34} {"",6} {dayMoved,11:N0} {"",11} {dayFair,11:N0} {dayMoved / dayFair,6:F4}");
        TestContext.Out.WriteLine($"  every change moved exactly the leaving nodes' keys; waves moved {waveMoved.Min():N0}-{waveMoved.Max():N0} keys to {waveReceivers.Min()}-{waveReceivers.Max()} nodes each");
        TestContext.Out.WriteLine($"  busiest node while a wave is out: {peaks.Average():F2} x the fleet mean on average, {peaks.Max():F2} x at most");
    }

    // Scales the sample to the fleet: FleetUsers users over NodeCount nodes, and the handoff defaults of FleetOptions.
    private void PrintClientsPerMinute(double dayMoved)
    {
        var fleet = new FleetOptions();
        var lease = new RegistryOptions().LeaseTtl;
        var shares = _ring.Shares().Values;
        var usersPerNode = FleetUsers / NodeCount;
        var heaviest = shares.Max() * FleetUsers;
        var receivers = ExpectedDistinct(NodeCount - 1);
        TestContext.Out.WriteLine($"scaled to {FleetUsers:N0} users, {usersPerNode:N0} per node on average ({heaviest:N0} on the most loaded node):");
        TestContext.Out.WriteLine($"  {"drain rate /s",13} {"clients/min",12} {"minutes (mean node)",20} {"minutes (most loaded)",22} {"per receiver /s",16} {$"moved within {fleet.DrainTimeout.TotalSeconds:F0} s",18}");
        foreach (var rate in new[] { fleet.HandoffMaxRate, 5 * fleet.HandoffMaxRate, 20 * fleet.HandoffMaxRate })
        {
            var withinTimeout = Math.Min(1.0, rate * fleet.DrainTimeout.TotalSeconds / usersPerNode);
            TestContext.Out.WriteLine($"  {rate,13:N0} {60.0 * rate,12:N0} {usersPerNode / rate / 60,20:F1} {heaviest / rate / 60,22:F1} {rate / receivers,16:F1} {100 * withinTimeout,17:F0}%");
        }

        TestContext.Out.WriteLine($"  a rolling deploy moves every user out and back: {2 * FleetUsers:N0} moves");
        TestContext.Out.WriteLine($"  {"deploy over",11} {"drains/min",11} {"clients/min",12} {"clients/s",10} {"per node /s",12} {$"draining at once ({fleet.HandoffMaxRate:N0}/s)",28} {$"({5 * fleet.HandoffMaxRate:N0}/s)",10}");
        foreach (var hours in new[] { 24, 8, 4, 1 })
        {
            var minutes = hours * 60.0;
            var perMinute = 2 * FleetUsers / minutes;
            var drainsPerMinute = NodeCount / minutes;
            var atOnce = drainsPerMinute * usersPerNode / fleet.HandoffMaxRate / 60;
            TestContext.Out.WriteLine($"  {$"{hours} h",11} {drainsPerMinute,11:F1} {perMinute,12:N0} {perMinute / 60,10:N0} {perMinute / 60 / NodeCount,12:F0} {atOnce,28:F0} {atOnce / 5,10:F0}");
        }

        var crashWindow = lease + fleet.UnreachableOwnerHold;
        TestContext.Out.WriteLine($"  a crash: {usersPerNode:N0} clients reconnect unpaced within ~{crashWindow.TotalSeconds:F0} s (lease {lease.TotalSeconds:F0} s + hold {fleet.UnreachableOwnerHold.TotalSeconds:F0} s) to ~{receivers:F0} nodes, {usersPerNode / receivers:N0} each");
        TestContext.Out.WriteLine($"  a rejoin: each of ~{receivers:F0} holders hands {usersPerNode / receivers:N0} back over {fleet.HandoffWindow.TotalSeconds:F0} s (under {fleet.HandoffMaxRate:N0}/s each): ~{usersPerNode / fleet.HandoffWindow.TotalSeconds:N0} connects/s into one node");
        TestContext.Out.WriteLine($"  the day: {dayMoved / KeyCount * FleetUsers:N0} moves, {dayMoved / KeyCount * FleetUsers / (24 * 60):N0} a minute on average");
    }

    // Compares the owners under `ring` with the base owners: keys that moved, those of them whose base owner is not in
    // `leaving` (none on a correct ring), and how many nodes received them.
    private (int Moved, int MovedFromOthers, int Receivers) Compare(HashRing ring, HashSet<string> leaving)
    {
        var moved = 0;
        var movedFromOthers = 0;
        var receivers = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < KeyCount; i++)
        {
            var owner = ring.OwnerOf(_keys[i])!.NodeId;
            if (owner != _owners[i])
            {
                moved++;
                receivers.Add(owner);
                if (!leaving.Contains(_owners[i]))
                {
                    movedFromOthers++;
                }
            }
        }

        return (moved, movedFromOthers, receivers.Count);
    }

    private string[] Owners(HashRing ring)
    {
        var owners = new string[KeyCount];
        for (var i = 0; i < KeyCount; i++)
        {
            owners[i] = ring.OwnerOf(_keys[i])!.NodeId;
        }

        return owners;
    }

    // Wilson-Hilferty quantiles of Gamma(V)/V at ±ShareSigmas: the bounds on N × a node's share.
    private static (double Lower, double Upper) ShareBounds()
    {
        double Quantile(double z) => Math.Pow(1 - (1.0 / (9.0 * VirtualNodes)) + (z / (3.0 * Math.Sqrt(VirtualNodes))), 3);
        return (Quantile(-ShareSigmas), Quantile(ShareSigmas));
    }

    // Distinct owners among the V points that follow a node's V points, drawn from `others` nodes.
    private static double ExpectedDistinct(int others) => others * (1 - Math.Pow(1 - (1.0 / others), VirtualNodes));

    // V minus the collisions (about Poisson: V - expected distinct) at Sigmas standard deviations.
    private static double SpreadLowerBound(int others)
    {
        var collisions = VirtualNodes - ExpectedDistinct(others);
        return VirtualNodes - collisions - (Sigmas * Math.Sqrt(collisions));
    }

    private static string NodeId(int ordinal) => $"chatnode-{ordinal}";

    private static NodeInfo Node(string id) => new(id, 1, $"ws://{id}:8080/ws", $"http://{id}:9080", NodeState.Active, VirtualNodes);

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): a fixed sequence for a given seed on every runtime.</summary>
    private sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            unchecked
            {
                _state += 0x9E3779B97F4A7C15UL;
                var z = _state;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                return z ^ (z >> 31);
            }
        }
    }
}
