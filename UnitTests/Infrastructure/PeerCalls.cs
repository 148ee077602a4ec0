using ChatNode.Auth;
using ChatNode.Peering;
using ChatNode.Protocol.Peer;
using ChatNode.Protocol.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Infrastructure;

/// <summary>Talks to a node's peer service as another node would, for fencing, handoff and stream tests.</summary>
public static class PeerCalls
{
    /// <summary>
    /// Forwards one push for <paramref name="users"/>, routed at <paramref name="epoch"/>, and waits for its ack; signed
    /// with <paramref name="secret"/> (the fleet secret unless given).
    /// </summary>
    public static async Task<uint> DeliverAsync(TestNode receiver, string fromNodeId, IReadOnlyList<string> users, long epoch, string? secret = null)
    {
        await using var stream = PeerCall.Open(receiver, fromNodeId, secret);
        await stream.SendAsync(users, epoch);
        using var deadline = new CancellationTokenSource(Poll.DefaultTimeout);
        Assert.That(await stream.Call.ResponseStream.MoveNext(deadline.Token), Is.True, "the peer acks the batch");
        var pushed = stream.Call.ResponseStream.Current.Pushed;
        await stream.Call.RequestStream.CompleteAsync();
        return pushed;
    }
}

/// <summary>One Deliver call (a stream) to a node's peer service, opened as another node would open it.</summary>
public sealed class PeerCall : IAsyncDisposable
{
    private readonly GrpcChannel _channel;
    private ulong _batches;

    private PeerCall(GrpcChannel channel, AsyncDuplexStreamingCall<DeliveryBatch, DeliveryBatchAck> call)
    {
        _channel = channel;
        Call = call;
    }

    public AsyncDuplexStreamingCall<DeliveryBatch, DeliveryBatchAck> Call { get; }

    /// <summary>Opens a stream to <paramref name="receiver"/> as node <paramref name="fromNodeId"/>, signed with <paramref name="secret"/> (the fleet secret unless given).</summary>
    public static PeerCall Open(TestNode receiver, string fromNodeId, string? secret = null)
    {
        var peerUrl = receiver.Services.GetRequiredService<ChatNode.Fleet.NodeLifecycle>().Self!.PeerUrl;
        var channel = GrpcChannel.ForAddress(peerUrl);
        var auth = new PeerAuth(Microsoft.Extensions.Options.Options.Create(new AuthOptions { Secret = TestEnvironment.Secret, FleetSecret = secret ?? TestEnvironment.FleetSecret }));
        var headers = new Metadata { { PeerAuth.NodeHeader, fromNodeId }, { PeerAuth.AuthHeader, auth.Sign(fromNodeId) } };
        return new PeerCall(channel, new Peer.PeerClient(channel).Deliver(headers));
    }

    /// <summary>Sends the next batch (ids count up from 1): one push of a new message in chat "x" for <paramref name="users"/>.</summary>
    public Task SendAsync(IReadOnlyList<string> users, long epoch)
    {
        var batchId = ++_batches;
        var deliveryId = $"m.x.{batchId}";
        var frame = new ServerFrame { NewMessage = new NewMessage { DeliveryId = deliveryId, ChatId = "x", MessageId = Guid.NewGuid().ToString("N"), Seq = batchId } };
        var delivery = new ChatNode.Protocol.Peer.Delivery { Frame = frame.ToByteString(), DeliveryId = deliveryId, Epoch = epoch };
        delivery.UserIds.Add(users);
        var batch = new DeliveryBatch { BatchId = batchId };
        batch.Deliveries.Add(delivery);
        return Call.RequestStream.WriteAsync(batch);
    }

    /// <summary>Sends the next batch with no deliveries, naming <paramref name="users"/> for a resync of what was stored at or before <paramref name="storedBeforeUs"/>.</summary>
    public Task SendResyncAsync(IReadOnlyList<string> users, long storedBeforeUs)
    {
        var batch = new DeliveryBatch { BatchId = ++_batches, ResyncStoredBeforeUs = storedBeforeUs };
        batch.ResyncUserIds.Add(users);
        return Call.RequestStream.WriteAsync(batch);
    }

    /// <summary>Completes the sending side and reads the acks until the receiver ends the stream.</summary>
    public async Task<List<DeliveryBatchAck>> CompleteAsync()
    {
        await Call.RequestStream.CompleteAsync();
        using var deadline = new CancellationTokenSource(Poll.DefaultTimeout);
        var acks = new List<DeliveryBatchAck>();
        while (await Call.ResponseStream.MoveNext(deadline.Token))
        {
            acks.Add(Call.ResponseStream.Current);
        }

        return acks;
    }

    public ValueTask DisposeAsync()
    {
        Call.Dispose();
        _channel.Dispose();
        return ValueTask.CompletedTask;
    }
}
