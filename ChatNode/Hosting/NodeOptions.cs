using Microsoft.Extensions.Options;

namespace ChatNode.Hosting;

/// <summary>Where the node listens (configuration section <c>Node</c>).</summary>
public sealed class NodeOptions
{
    public const string Section = "Node";

    /// <summary>The HTTP/WebSocket listen URL. Port 0 picks a free port (tests).</summary>
    public string Listen { get; set; } = "http://127.0.0.1:8080";

    /// <summary>The HTTP/2 listen URL of the node-to-node gRPC service and admin requests. Port 0 picks a free port (tests).</summary>
    public string PeerListen { get; set; } = "http://127.0.0.1:9080";

    /// <summary>The listen URL of <c>/metrics</c> (and the probes) for the monitoring system; empty: no metrics endpoint.</summary>
    public string AdminListen { get; set; } = "http://127.0.0.1:9280";

    /// <summary>
    /// Serve a connection's first request <c>GET /ws</c> with the node's own WebSocket handshake, ahead of the HTTP
    /// pipeline, so no HTTP request state lives under the socket (docs/performance.md). False: every upgrade goes
    /// through ASP.NET Core. Same protocol either way. Default true.
    /// </summary>
    public bool RawWebSocket { get; set; } = true;
}

internal sealed class NodeOptionsValidator : IValidateOptions<NodeOptions>
{
    public ValidateOptionsResult Validate(string? name, NodeOptions o)
    {
        var failures = new List<string>();
        if (!Uri.TryCreate(o.Listen, UriKind.Absolute, out _))
        {
            failures.Add("Node:Listen must be an absolute URL such as http://127.0.0.1:8080.");
        }

        if (!Uri.TryCreate(o.PeerListen, UriKind.Absolute, out _))
        {
            failures.Add("Node:PeerListen must be an absolute URL such as http://127.0.0.1:9080.");
        }

        if (o.AdminListen.Length > 0 && !Uri.TryCreate(o.AdminListen, UriKind.Absolute, out _))
        {
            failures.Add("Node:AdminListen must be empty or an absolute URL such as http://127.0.0.1:9280.");
        }

        // Requests are told apart by the port they reached.
        var ports = new[] { o.Listen, o.PeerListen, o.AdminListen }
            .Select(u => Uri.TryCreate(u, UriKind.Absolute, out var url) ? url.Port : 0).Where(p => p > 0).ToArray();
        if (ports.Distinct().Count() != ports.Length)
        {
            failures.Add("Node:Listen, Node:PeerListen and Node:AdminListen must use different ports.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
