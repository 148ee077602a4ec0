using System.Text;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;
using Google.Protobuf;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node.Protocol;

[TestFixture]
[Fast]
public sealed class FrameCodecTests
{
    [Test]
    public void The_subprotocol_picks_the_encoding_and_unknown_ones_are_refused()
    {
        Assert.That(FrameCodec.TryGetEncoding(["chat.v1+json"], out var encoding, out var chosen), Is.True);
        Assert.That((encoding, chosen), Is.EqualTo((FrameEncoding.Json, "chat.v1+json")));
        Assert.That(FrameCodec.TryGetEncoding(["other", "chat.v1+proto"], out encoding, out chosen), Is.True);
        Assert.That((encoding, chosen), Is.EqualTo((FrameEncoding.Proto, "chat.v1+proto")));
        Assert.That(FrameCodec.TryGetEncoding(["chat.v2+proto"], out _, out _), Is.False);
        Assert.That(FrameCodec.TryGetEncoding([], out _, out _), Is.False);
    }

    [TestCase(FrameEncoding.Proto)]
    [TestCase(FrameEncoding.Json)]
    public void A_client_frame_decodes_identically_in_both_encodings(FrameEncoding encoding)
    {
        var frame = new ClientFrame { RequestId = ulong.MaxValue, SendMessage = new SendMessage { ChatId = "c", ClientMessageId = "m", Text = "héllo ✓" } };
        var bytes = encoding == FrameEncoding.Proto ? frame.ToByteArray() : Encoding.UTF8.GetBytes(JsonFormatter.Default.Format(frame));
        Assert.That(FrameCodec.TryDecode(bytes, encoding, out var decoded, out var error), Is.True, error);
        Assert.That(decoded, Is.EqualTo(frame));
    }

    [Test]
    public void Json_uses_the_protobuf_mapping_with_64_bit_integers_as_strings()
    {
        var json = Encoding.UTF8.GetString(FrameCodec.Encode(new ServerFrame { RequestId = 7, SendMessageResult = new SendMessageResult { Seq = 3, MessageId = "id" } }, FrameEncoding.Json));
        Assert.That(json, Does.Contain("\"requestId\": \"7\"").And.Contain("\"sendMessageResult\"").And.Contain("\"seq\": \"3\""));
    }

    [TestCase(FrameEncoding.Proto, new byte[] { 0xFF, 0xFF, 0xFF })]
    [TestCase(FrameEncoding.Json, new byte[] { (byte)'{', (byte)'x' })]
    [TestCase(FrameEncoding.Json, new byte[] { 0xC3, 0x28 })]
    public void Malformed_payloads_are_reported_not_thrown(FrameEncoding encoding, byte[] payload)
    {
        Assert.That(FrameCodec.TryDecode(payload, encoding, out _, out var error), Is.False);
        Assert.That(error, Is.Not.Empty);
    }

    [Test]
    public void An_unknown_json_command_decodes_to_a_frame_without_command()
    {
        Assert.That(FrameCodec.TryDecode("{\"requestId\":\"4\",\"fly\":{}}"u8, FrameEncoding.Json, out var frame, out var error), Is.True, error);
        Assert.That((frame.RequestId, frame.CommandCase), Is.EqualTo((4UL, ClientFrame.CommandOneofCase.None)));
    }

    [Test]
    public void An_outbound_frame_serializes_each_encoding_once_and_shares_the_bytes()
    {
        var frame = new OutboundFrame(new ServerFrame { NewMessage = new NewMessage { DeliveryId = "m.c.1", Text = "x" } }, "m.c.1");
        Assert.That(frame.Bytes(FrameEncoding.Proto), Is.SameAs(frame.Bytes(FrameEncoding.Proto)));
        Assert.That(frame.Bytes(FrameEncoding.Json), Is.SameAs(frame.Bytes(FrameEncoding.Json)));
        Assert.That(ServerFrame.Parser.ParseFrom(frame.Bytes(FrameEncoding.Proto)).NewMessage.Text, Is.EqualTo("x"));
    }
}
