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

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
