namespace ChatNode.UnitTests.Infrastructure;

/// <summary>
/// Marks the fast tier: tests that need no external service (no Redis, etcd or S3), only this process, loopback sockets
/// and fake clocks. `.ci/run` runs them first, on their own (`--filter TestCategory=Fast`), in about 35 s.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class FastAttribute : CategoryAttribute
{
    public const string Tier = "Fast";

    public FastAttribute()
        : base(Tier)
    {
    }
}
