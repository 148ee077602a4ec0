using Microsoft.Extensions.Options;

namespace ChatNode.Fleet;

/// <summary>This node's identity and advertised addresses in the fleet (configuration section <c>Node</c>).</summary>
public sealed class FleetOptions
{
    public const string Section = "Node";

    /// <summary>This node's id; defaults to the machine name plus the process id.</summary>
    public string NodeId { get; set; } = "";

    /// <summary>The WebSocket URL other nodes redirect clients to; default: derived from the bound WebSocket listener.</summary>
    public string PublicUrl { get; set; } = "";

    /// <summary>The gRPC URL other nodes open peer streams to; default: the bound peer listener.</summary>
    public string PeerPublicUrl { get; set; } = "";

    /// <summary>
    /// Connections a ring change moves (a join, a drain) are spread over this window, in random order, so that their
    /// reconnects do not arrive at once. Default 10 s.
    /// </summary>
    public TimeSpan HandoffWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The most connections per second one node moves, whatever the window says. Default 1,000.</summary>
    public int HandoffMaxRate { get; set; } = 1000;

    /// <summary>
    /// How long a draining node waits for its connections to move before it leaves anyway (those left are closed with
    /// 4002). Default 60 s.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a joining node waits for the current owners to hand its users over before it turns active anyway. Default 60 s.</summary>
    public TimeSpan JoinTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a connection whose owner cannot be reached (its peer stream is down, its lease not yet expired) is held
    /// at the upgrade for the ring to change, before it is redirected anyway. Default 7 s: a lease TTL (5 s) and margin.
    /// </summary>
    public TimeSpan UnreachableOwnerHold { get; set; } = TimeSpan.FromSeconds(7);
}

internal sealed class FleetOptionsDefaults : IPostConfigureOptions<FleetOptions>
{
    /// <summary>The id of a node that was given none: the machine name and the process id.</summary>
    public static string DefaultNodeId() => $"{Environment.MachineName}-{Environment.ProcessId}".ToLowerInvariant();

    public void PostConfigure(string? name, FleetOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.NodeId))
        {
            options.NodeId = DefaultNodeId();
        }
    }
}

internal sealed class FleetOptionsValidator : IValidateOptions<FleetOptions>
{
    public ValidateOptionsResult Validate(string? name, FleetOptions o)
    {
        var failures = new List<string>();
        if (o.PublicUrl.Length > 0 && !(Uri.TryCreate(o.PublicUrl, UriKind.Absolute, out var ws) && ws.Scheme is "ws" or "wss"))
        {
            failures.Add("Node:PublicUrl must be a ws:// or wss:// URL.");
        }

        if (o.PeerPublicUrl.Length > 0 && !(Uri.TryCreate(o.PeerPublicUrl, UriKind.Absolute, out var peer) && peer.Scheme is "http" or "https"))
        {
            failures.Add("Node:PeerPublicUrl must be an http:// or https:// URL.");
        }

        if (o.HandoffWindow < TimeSpan.Zero || o.HandoffMaxRate < 1)
        {
            failures.Add("Node:HandoffWindow must not be negative and Node:HandoffMaxRate must be positive.");
        }

        if (o.DrainTimeout <= TimeSpan.Zero || o.JoinTimeout <= TimeSpan.Zero || o.UnreachableOwnerHold < TimeSpan.Zero)
        {
            failures.Add("Node:DrainTimeout and JoinTimeout must be positive, Node:UnreachableOwnerHold not negative.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
