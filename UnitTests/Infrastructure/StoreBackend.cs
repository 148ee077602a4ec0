namespace ChatNode.UnitTests.Infrastructure;

/// <summary>Which store a test node runs on.</summary>
public enum StoreBackend
{
    /// <summary>The real Redis Cluster of scripts/services.sh.</summary>
    Redis,

    /// <summary>An in-memory store of the test's own (the fast tier): no service needed, media off.</summary>
    Memory,
}
