using Microsoft.Extensions.Options;

namespace ChatNode.Registry;

/// <summary>Fleet membership options (configuration section <c>Registry</c>).</summary>
public sealed class RegistryOptions
{
    public const string Section = "Registry";

    /// <summary>etcd endpoint, e.g. <c>http://127.0.0.1:2379</c>. Empty: a single node that owns every user.</summary>
    public string Endpoints { get; set; } = "";

    /// <summary>Key prefix of member records. Nodes with the same prefix form one fleet.</summary>
    public string Prefix { get; set; } = "/chatnode/nodes/";

    /// <summary>Lease TTL of a node's record: a node that stops keeping it alive leaves the ring after this long. Default 5 s.</summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Virtual nodes (ring points) per node. Default 128.</summary>
    public int VirtualNodes { get; set; } = 128;

    /// <summary>How long start waits for the first membership read before serving alone. Default 10 s.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

internal sealed class RegistryOptionsValidator : IValidateOptions<RegistryOptions>
{
    public ValidateOptionsResult Validate(string? name, RegistryOptions options)
    {
        var failures = new List<string>();
        if (options.Endpoints.Length > 0 && !Uri.TryCreate(options.Endpoints.Split(',')[0].Trim(), UriKind.Absolute, out _))
        {
            failures.Add("Registry:Endpoints must be an http:// URL such as http://127.0.0.1:2379.");
        }

        if (!options.Prefix.StartsWith('/') || !options.Prefix.EndsWith('/'))
        {
            failures.Add("Registry:Prefix must start and end with '/'.");
        }

        if (options.LeaseTtl < TimeSpan.FromSeconds(2))
        {
            failures.Add("Registry:LeaseTtl must be at least 2 s (etcd leases count whole seconds).");
        }

        if (options.VirtualNodes is < 1 or > 4096)
        {
            failures.Add("Registry:VirtualNodes must be between 1 and 4096.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
