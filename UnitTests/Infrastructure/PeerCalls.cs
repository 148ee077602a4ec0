using ChatNode.Auth;
using ChatNode.Peering;
using ChatNode.Protocol.Peer;
using ChatNode.Protocol.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Infrastructure;

/// <summary>Talks to a node's peer service as another node would, for fencing and handoff tests.</summary>
public static class PeerCalls
{
    /// <summary>
    /// Forwards one push for <paramref name="users"/>, routed at <paramref name="epoch"/>, and waits for its ack; signed
    /// with <paramref name="secret"/> (the fleet secret unless given).
    /// </summary>
    public static async Task<uint> DeliverAsync(TestNode receiver, string fromNodeId, IReadOnlyList<string> users, long epoch, string? secret = null)
    {
        var peerUrl = receiver.Services.GetRequiredService<ChatNode.Fleet.NodeLifecycle>().Self!.PeerUrl;
        using var channel = GrpcChannel.ForAddress(peerUrl);
        var auth = new PeerAuth(Microsoft.Extensions.Options.Options.Create(new AuthOptions { Secret = TestEnvironment.Secret, FleetSecret = secret ?? TestEnvironment.FleetSecret }));
        var headers = new Metadata { { PeerAuth.NodeHeader, fromNodeId }, { PeerAuth.AuthHeader, auth.Sign(fromNodeId) } };
        using var call = new Peer.PeerClient(channel).Deliver(headers);
        var frame = new ServerFrame { NewMessage = new NewMessage { DeliveryId = "m.x.1", ChatId = "x", MessageId = Guid.NewGuid().ToString("N"), Seq = 1 } };
        var delivery = new ChatNode.Protocol.Peer.Delivery { Frame = frame.ToByteString(), DeliveryId = "m.x.1", Epoch = epoch };
        delivery.UserIds.Add(users);
        var batch = new DeliveryBatch { BatchId = 1 };
        batch.Deliveries.Add(delivery);
        await call.RequestStream.WriteAsync(batch);
        using var deadline = new CancellationTokenSource(Poll.DefaultTimeout);
        Assert.That(await call.ResponseStream.MoveNext(deadline.Token), Is.True, "the peer acks the batch");
        await call.RequestStream.CompleteAsync();
        return call.ResponseStream.Current.Pushed;
    }
}
