using ChatNode.Auth;
using Microsoft.Extensions.Options;

namespace ChatNode.Endpoints;

/// <summary>Checks and makes admin request credentials (<see cref="AdminSignature"/>) with the fleet secret (<see cref="AuthOptions.FleetSecret"/>) and this node's clock. Thread-safe.</summary>
public sealed class AdminAuth(IOptions<AuthOptions> options, TimeProvider time)
{
    public const string TimeHeader = AdminSignature.TimeHeader;
    public const string SignatureHeader = AdminSignature.SignatureHeader;

    private readonly string _secret = options.Value.FleetSecret;

    public (string Time, string Signature) Sign(string action, string nodeId) => AdminSignature.Sign(_secret, action, nodeId, time.GetUtcNow());

    public bool Verify(string action, string nodeId, string? timeText, string? signature) =>
        AdminSignature.Verify(_secret, action, nodeId, timeText, signature, time.GetUtcNow());
}
