using ChatNode.Client;
using ChatNode.Peering;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Node.Fleet;

/// <summary>Three real nodes on loopback sharing the real etcd and Redis Cluster.</summary>
[TestFixture]
public sealed class FleetTests
{
    [TestCase(ChatEncoding.Proto)]
    [TestCase(ChatEncoding.Json)]
    public async Task Users_on_every_node_chat_across_nodes_in_real_time(ChatEncoding encoding)
    {
        await using var fleet = await TestFleet.StartAsync(3);
        var ids = fleet.Nodes.Select(TestFleet.NodeIdOf).ToArray();
        var users = ids.Select(id => fleet.UserOwnedBy(id)).ToArray();

        // Everyone connects through the first node and is redirected to the owner of their user.
        var clients = new List<ChatClient>();
        try
        {
            foreach (var user in users)
            {
                clients.Add(await fleet.Seed.ConnectAsync(user, "phone", encoding));
            }

            for (var i = 0; i < 3; i++)
            {
                Assert.That(clients[i].Welcome?.NodeId, Is.EqualTo(ids[i]), $"{users[i]} ends at its owner");
            }

            var direct = await clients[0].CreateChatAsync([users[1]], "across nodes");
            var sent = await clients[0].SendMessageAsync(direct.ChatId, "hello from node 0");
            var got = await ChatAssert.ReceiveAsync(clients[1].Messages, 1, "the 1:1 message on node 1");
            Assert.That(got[0].MessageId, Is.EqualTo(sent.MessageId));

            var group = await clients[2].CreateChatAsync([users[0], users[1]], "all three nodes");
            var groupSent = await clients[2].SendMessageAsync(group.ChatId, "hello everyone");
            foreach (var i in new[] { 0, 1 })
            {
                var message = await ChatAssert.ReceiveAsync(clients[i].Messages, 1, $"the group message at node {i}");
                Assert.That(message[0].MessageId, Is.EqualTo(groupSent.MessageId));
            }

            var forwarded = fleet.Nodes[2].Services.GetRequiredService<PeerForwarder>().Peers;
            Assert.That(forwarded.Keys, Is.EquivalentTo(new[] { ids[0], ids[1] }), "node 2 holds a peer stream to each other node");
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task Any_node_leads_a_user_to_its_owner_and_every_node_routes_alike()
    {
        await using var fleet = await TestFleet.StartAsync(3);
        for (var i = 0; i < 12; i++)
        {
            var user = TestEnvironment.NewId("route");
            var answers = await Task.WhenAll(fleet.Nodes.Select(n => RouteClient.RouteAsync(n.BaseUrl, user)));
            Assert.That(answers.Select(a => a.NodeId).Distinct().Count(), Is.EqualTo(1), $"every node routes {user} to the same owner");

            var entry = fleet.Nodes[i % 3];
            await using var client = await entry.ConnectAsync(user, "phone");
            Assert.That(client.Welcome?.NodeId, Is.EqualTo(answers[0].NodeId), $"{user} entering at node {i % 3}");
            Assert.That(client.CurrentUrl.ToString(), Is.EqualTo(answers[0].Url));
        }
    }

    [Test]
    public async Task A_gracefully_stopped_node_leaves_every_ring_and_its_users_get_what_was_sent_meanwhile()
    {
        await using var fleet = await TestFleet.StartAsync(3);
        var leaving = fleet.Nodes[2];
        var leavingId = TestFleet.NodeIdOf(leaving);
        var (alice, carol) = (fleet.UserOwnedBy(TestFleet.NodeIdOf(fleet.Nodes[0])), fleet.UserOwnedBy(TestFleet.NodeIdOf(leaving)));
        await using var a = await fleet.Seed.ConnectAsync(alice, "phone");
        await using var c = await fleet.Seed.ConnectAsync(carol, "phone");
        var chat = await a.CreateChatAsync([carol]);
        await ChatAssert.ReceiveAsync(c.ChatUpdates, 1, "carol's chat update");

        fleet.Nodes.Remove(leaving);
        var stopping = leaving.DisposeAsync().AsTask();
        await fleet.WaitConvergedAsync(2, TimeSpan.FromSeconds(3));
        var sent = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            sent.Add((await a.SendMessageAsync(chat.ChatId, $"while carol moves {i}")).MessageId);
        }

        await stopping;
        var received = await ChatAssert.ReceiveAsync(c.Messages, 10, "carol's messages at her new owner", TimeSpan.FromSeconds(20));
        Assert.That(received.Select(m => m.MessageId), Is.EquivalentTo(sent));
        Assert.That(c.Welcome?.NodeId, Is.Not.EqualTo(leavingId), "carol reconnected to another node");
    }

    [Test]
    public async Task A_killed_node_leaves_by_lease_expiry_without_stalling_other_deliveries()
    {
        await using var fleet = await TestFleet.StartAsync(2);
        var victim = await fleet.AddProcessAsync();
        await fleet.WaitConvergedAsync(3, TimeSpan.FromSeconds(10));
        var (alice, bob, dave) = (fleet.UserOwnedBy(TestFleet.NodeIdOf(fleet.Nodes[0])), fleet.UserOwnedBy(TestFleet.NodeIdOf(fleet.Nodes[1])), fleet.UserOwnedBy(victim.NodeId));
        await using var a = await fleet.Seed.ConnectAsync(alice, "phone");
        await using var b = await fleet.Seed.ConnectAsync(bob, "phone");
        await using var d = await fleet.Seed.ConnectAsync(dave, "phone");
        Assert.That(d.Welcome?.NodeId, Is.EqualTo(victim.NodeId));
        var withBob = await a.CreateChatAsync([bob]);
        var withDave = await a.CreateChatAsync([dave]);
        await ChatAssert.ReceiveAsync(d.ChatUpdates, 1, "dave's chat update through the victim");

        victim.Kill();
        var toDave = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            toDave.Add((await a.SendMessageAsync(withDave.ChatId, $"to dave {i}")).MessageId);
            var toBob = await a.SendMessageAsync(withBob.ChatId, $"to bob {i}");
            var atBob = await ChatAssert.ReceiveAsync(b.Messages, 1, $"bob's message {i} while the victim is dead", TimeSpan.FromSeconds(5));
            Assert.That(atBob[0].MessageId, Is.EqualTo(toBob.MessageId));
        }

        await fleet.WaitConvergedAsync(2, TimeSpan.FromSeconds(10));
        var atDave = await ChatAssert.ReceiveAsync(d.Messages, 10, "dave's messages after he reconnected to a live owner", TimeSpan.FromSeconds(30));
        Assert.That(atDave.Select(m => m.MessageId), Is.EquivalentTo(toDave));
    }

    [Test]
    public async Task The_users_of_a_killed_node_are_served_again_within_the_lease_ttl_without_bouncing_between_nodes()
    {
        await using var fleet = await TestFleet.StartAsync(2);
        var victim = await fleet.AddProcessAsync();
        await fleet.WaitConvergedAsync(3, TimeSpan.FromSeconds(15));
        var seeds = fleet.Nodes.Select(n => n.WsUrl).ToArray();
        var users = Enumerable.Range(0, 4).Select(_ => fleet.UserOwnedBy(victim.NodeId, "orphan")).ToArray();
        var clients = new List<ChatClient>();
        try
        {
            foreach (var user in users)
            {
                clients.Add(await fleet.Seed.ConnectAsync(user, "phone", configure: o => o.Seeds = seeds));
            }

            Assert.That(clients.All(c => c.Welcome?.NodeId == victim.NodeId), Is.True);
            var redirectsBefore = clients.Select(c => c.RedirectsFollowed).ToArray();
            var killed = DateTime.UtcNow;
            victim.Kill();

            // The clients reconnect through the other nodes at once; those hold them until the lease (2 s) expired
            // and the ring dropped the victim, then serve them or redirect each once.
            await Poll.UntilAsync(() => clients.All(c => c.Welcome?.NodeId is { } node && node != victim.NodeId), "every client served by a live node", TimeSpan.FromSeconds(20));
            var servedAfter = DateTime.UtcNow - killed;
            Assert.That(servedAfter, Is.LessThan(TimeSpan.FromSeconds(2 + 4)), "served within the lease TTL and a margin");
            for (var i = 0; i < clients.Count; i++)
            {
                TestContext.Progress.WriteLine($"{users[i]}: {clients[i].RedirectsFollowed - redirectsBefore[i]} redirects, {clients[i].Connections} connections");
                Assert.That(clients[i].RedirectsFollowed - redirectsBefore[i], Is.LessThanOrEqualTo(1), $"{users[i]} was redirected at most once, not bounced to the dead node");
            }

            TestContext.Progress.WriteLine($"served again {servedAfter.TotalSeconds:0.00} s after the kill");
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task A_peer_stream_broken_mid_traffic_reconnects_and_nothing_confirmed_is_lost()
    {
        await using var fleet = await TestFleet.StartAsync(2, new Dictionary<string, string?>
        {
            ["Node:RedeliveryTimeout"] = "00:00:01",
            ["Node:SweepInterval"] = "00:00:00.250",
            ["Node:InboxResyncInterval"] = "00:00:01",
        });
        var (alice, bob) = (fleet.UserOwnedBy(TestFleet.NodeIdOf(fleet.Nodes[0])), fleet.UserOwnedBy(TestFleet.NodeIdOf(fleet.Nodes[1])));
        await using var a = await fleet.Seed.ConnectAsync(alice, "phone");
        await using var b = await fleet.Seed.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);
        var stream = fleet.Nodes[0].Services.GetRequiredService<PeerForwarder>().Peers[TestFleet.NodeIdOf(fleet.Nodes[1])];

        var sent = new List<string>();
        for (var round = 0; round < 4; round++)
        {
            var connects = stream.Connects;
            for (var i = 0; i < 25; i++)
            {
                sent.Add((await a.SendMessageAsync(chat.ChatId, $"round {round} message {i}")).MessageId);
                if (i == 5)
                {
                    stream.BreakStream();
                }
            }

            await Poll.UntilAsync(() => stream.Connects > connects, $"the stream to reopen after break {round}");
        }

        var received = await ChatAssert.ReceiveAsync(b.Messages, 100, "every confirmed message at bob", TimeSpan.FromSeconds(20));
        Assert.That(received.Select(m => m.MessageId), Is.EquivalentTo(sent));
    }

    [Test]
    [NonParallelizable]
    public async Task Nodes_keep_serving_while_etcd_is_down_and_re_register_when_it_returns()
    {
        await using var fleet = await TestFleet.StartAsync(2);
        var (alice, bob) = (fleet.UserOwnedBy(TestFleet.NodeIdOf(fleet.Nodes[0])), fleet.UserOwnedBy(TestFleet.NodeIdOf(fleet.Nodes[1])));
        await using var a = await fleet.Seed.ConnectAsync(alice, "phone");
        await using var b = await fleet.Seed.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);
        var epochBefore = TestFleet.Ring(fleet.Nodes[0]).Epoch;

        Services.Run("stop", "etcd");
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            var i = 0;
            // About ten messages a second, as a person would send them (a flat-out loop would meet the per-user quota).
            while (DateTime.UtcNow < deadline)
            {
                var pace = Task.Delay(100);
                var sent = await a.SendMessageAsync(chat.ChatId, $"etcd is down {i++}");
                var got = await ChatAssert.ReceiveAsync(b.Messages, 1, "a message across nodes while etcd is down", TimeSpan.FromSeconds(5));
                Assert.That(got[0].MessageId, Is.EqualTo(sent.MessageId));
                await pace;
            }

            Assert.That(TestFleet.Ring(fleet.Nodes[0]).Members, Has.Count.EqualTo(2), "the last ring stays in force");
        }
        finally
        {
            Services.Run("resume", "etcd");
        }

        // After the outage both nodes re-grant leases and re-put their records: the ring converges on a newer epoch.
        await Poll.UntilAsync(
            () => fleet.Nodes.All(n => TestFleet.Ring(n).Members.Count == 2 && TestFleet.Ring(n).Epoch > epochBefore),
            "both nodes re-registered and both rings moved to a newer epoch",
            TimeSpan.FromSeconds(20));
        var after = await a.SendMessageAsync(chat.ChatId, "etcd is back");
        var last = await ChatAssert.ReceiveAsync(b.Messages, 1, "a message after etcd returned");
        Assert.That(last[0].MessageId, Is.EqualTo(after.MessageId));
    }
}
