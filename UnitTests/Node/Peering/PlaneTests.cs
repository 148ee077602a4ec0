using System.Diagnostics.Metrics;
using System.Net;
using System.Net.WebSockets;
using ChatNode.Client;
using ChatNode.UnitTests.Infrastructure;
using Grpc.Core;

namespace ChatNode.UnitTests.Node.Peering;

/// <summary>
/// Each listener answers its own routes only (client: WebSocket and route lookup; peer: peer service and admin
/// requests; admin: metrics), and the peer plane takes calls only from ring members holding the fleet secret.
/// </summary>
[TestFixture(StoreBackend.Memory, Category = FastAttribute.Tier)]
[TestFixture(StoreBackend.Redis)]
public sealed class PlaneTests(StoreBackend backend) : NodeFixture(backend)
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Node:PeerMembershipWait"] = "00:00:00.300",
    };

    [Test]
    public async Task Every_route_answers_on_its_own_listener_and_is_not_found_on_the_others()
    {
        using var http = new HttpClient();
        using var h2 = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        async Task<HttpStatusCode> Get(HttpClient client, Uri baseUrl, string path) => (await client.GetAsync(new Uri(baseUrl, path))).StatusCode;

        Assert.Multiple(async () =>
        {
            Assert.That(await Get(http, Node.AdminUrl, "/metrics"), Is.EqualTo(HttpStatusCode.OK), "metrics on the admin listener");
            Assert.That(await Get(http, Node.BaseUrl, "/metrics"), Is.EqualTo(HttpStatusCode.NotFound), "no metrics for clients");
            Assert.That(await Get(h2, Node.PeerUrl, "/metrics"), Is.EqualTo(HttpStatusCode.NotFound), "no metrics for peers");

            Assert.That(await Get(http, Node.BaseUrl, "/v1/route?user=alice"), Is.EqualTo(HttpStatusCode.OK), "route lookup for clients");
            Assert.That(await Get(h2, Node.PeerUrl, "/v1/route?user=alice"), Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(await Get(http, Node.AdminUrl, "/v1/route?user=alice"), Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(await Get(http, Node.AdminUrl, "/ws"), Is.EqualTo(HttpStatusCode.NotFound), "no WebSocket on the admin listener");
            Assert.That(await Get(h2, Node.PeerUrl, "/ws"), Is.EqualTo(HttpStatusCode.NotFound), "no WebSocket on the peer listener");

            Assert.That(await Get(http, Node.AdminUrl, "/readyz"), Is.EqualTo(HttpStatusCode.OK), "probes on the admin listener");
            Assert.That(await Get(http, Node.BaseUrl, "/healthz"), Is.EqualTo(HttpStatusCode.OK), "and on the client listener");

            var drain = (await http.PostAsync(new Uri(Node.BaseUrl, "/v1/admin/drain"), null)).StatusCode;
            Assert.That(drain, Is.EqualTo(HttpStatusCode.NotFound), "admin requests only on the peer listener");
            var peerDrain = (await h2.PostAsync(new Uri(Node.PeerUrl, "/v1/admin/drain"), null)).StatusCode;
            Assert.That(peerDrain, Is.EqualTo(HttpStatusCode.Unauthorized), "there, unsigned, it is refused");
        });

        // A WebSocket over HTTP/2 on the peer listener is not a client connection either.
        using var socket = new ClientWebSocket { Options = { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact } };
        socket.Options.SetRequestHeader("Authorization", "Bearer " + Node.Token("alice", "phone"));
        using var handler = new SocketsHttpHandler();
        using var invoker = new HttpMessageInvoker(handler);
        var refused = Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri($"ws://{Node.PeerUrl.Authority}/ws"), invoker, CancellationToken.None));
        Assert.That(refused!.Message, Does.Contain("404"));
    }

    [Test]
    public async Task A_peer_call_needs_the_fleet_secret_and_a_ring_member()
    {
        var refused = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "chat.peer.refused")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            lock (refused)
            {
                refused.Add(tags.ToArray().Single(t => t.Key == "reason").Value as string ?? "");
            }
        });
        listener.Start();

        var bob = TestEnvironment.NewId("bob");
        await using var b = await Node.ConnectAsync(bob, "phone");
        var self = TestFleet.NodeIdOf(Node);
        var epoch = TestFleet.Ring(Node).Epoch;
        var before = b.PushesReceived;

        var forged = Assert.ThrowsAsync<RpcException>(() => PeerCalls.DeliverAsync(Node, "made-up-node", [bob], epoch));
        Assert.That(forged!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied), "the fleet secret but no member of the ring");
        var tokenSecret = Assert.ThrowsAsync<RpcException>(() => PeerCalls.DeliverAsync(Node, self, [bob], epoch, TestEnvironment.Secret));
        Assert.That(tokenSecret!.StatusCode, Is.EqualTo(StatusCode.Unauthenticated), "the client-token secret does not open the peer plane");
        lock (refused)
        {
            Assert.That(refused, Is.EquivalentTo(new[] { "membership", "credentials" }), "both counted, by reason");
        }

        // A member holding the fleet secret is served: its push reaches bob, and only its push (a refused call's push
        // would have come first, on the same connection).
        Assert.That(await PeerCalls.DeliverAsync(Node, self, [bob], epoch), Is.EqualTo(1u));
        await Poll.UntilAsync(() => b.PushesReceived > before, "the member's push");
        Assert.That(b.PushesReceived, Is.EqualTo(before + 1), "nothing of the refused calls was pushed");
    }
}
