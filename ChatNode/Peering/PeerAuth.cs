using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using ChatNode.Auth;
using Microsoft.Extensions.Options;

namespace ChatNode.Peering;

/// <summary>Peer stream credentials: base64url(HMAC-SHA256(fleet secret, "peer:" + node id)).</summary>
public sealed class PeerAuth(IOptions<AuthOptions> options)
{
    public const string NodeHeader = "x-chatnode-node";
    public const string AuthHeader = "x-chatnode-peer-auth";

    private readonly byte[] _key = Encoding.UTF8.GetBytes(options.Value.FleetSecret);

    public string Sign(string nodeId) => Base64Url.EncodeToString(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes("peer:" + nodeId)));

    public bool Verify(string? nodeId, string? signature) =>
        !string.IsNullOrEmpty(nodeId) && signature is not null
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(nodeId)), Encoding.ASCII.GetBytes(signature));
}
