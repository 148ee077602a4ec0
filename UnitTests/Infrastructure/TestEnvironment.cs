namespace ChatNode.UnitTests.Infrastructure;

/// <summary>Where the services started by scripts/test.sh (or `make services`) listen.</summary>
public static class TestEnvironment
{
    public const string Secret = "unit-test-cluster-secret-0123456789";

    public const string FleetSecret = "unit-test-fleet-secret-0123456789";

    public static string RedisEndpoints =>
        Environment.GetEnvironmentVariable("CHATNODE_REDIS") is { Length: > 0 } value
            ? value
            : string.Join(',', Enumerable.Range(7101, 6).Select(p => $"127.0.0.1:{p}"));

    public static string EtcdEndpoint =>
        Environment.GetEnvironmentVariable("CHATNODE_ETCD") is { Length: > 0 } value ? value : "http://127.0.0.1:2479";

    public static string S3Endpoint =>
        Environment.GetEnvironmentVariable("CHATNODE_S3") is { Length: > 0 } value ? value : "http://127.0.0.1:4569";

    public static string BuildDirectory =>
        Environment.GetEnvironmentVariable("CHATNODE_BUILD") is { Length: > 0 } value
            ? value
            : Path.GetFullPath(Path.Combine(TestContext.CurrentContext.TestDirectory, "../../../../build"));

    /// <summary>The repository's root folder (the one holding chatnode.sln), found upwards from the test binaries.</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "chatnode.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("no chatnode.sln above " + TestContext.CurrentContext.TestDirectory);
        }
    }

    /// <summary>A fresh id, so tests sharing one store never see each other's data.</summary>
    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 64)];
}
