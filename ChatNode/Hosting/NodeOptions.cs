using Microsoft.Extensions.Options;

namespace ChatNode.Hosting;

/// <summary>Where the node listens (configuration section <c>Node</c>).</summary>
public sealed class NodeOptions
{
    public const string Section = "Node";

    /// <summary>The HTTP/WebSocket listen URL. Port 0 picks a free port (tests).</summary>
    public string Listen { get; set; } = "http://127.0.0.1:8080";

    /// <summary>The HTTP/2 listen URL of the node-to-node gRPC service. Port 0 picks a free port (tests).</summary>
    public string PeerListen { get; set; } = "http://127.0.0.1:9080";
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

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
