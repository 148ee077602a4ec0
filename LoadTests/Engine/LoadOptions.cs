
namespace ChatNode.LoadTests.Engine;

/// <summary>The options of a load run. Every run is bounded by a duration and a message count.</summary>
public sealed class LoadOptions
{
    public string Scenario { get; init; } = "";

    public Uri Url { get; set; } = new("ws://127.0.0.1:8080/ws");

    /// <summary>More entry points of the fleet, tried when <see cref="Url"/> does not answer.</summary>
    public IReadOnlyList<Uri> Seeds { get; set; } = [];

    public int LocalNodes { get; init; }

    /// <summary>Settings for the nodes of a local fleet, as <c>Section:Key=Value</c>.</summary>
    public IReadOnlyList<string> NodeSettings { get; init; } = [];

    public string Secret { get; set; } = Environment.GetEnvironmentVariable("CHATNODE_SECRET") ?? "";

    public int Rate { get; set; }

    public int Concurrency { get; set; }

    public int Window { get; set; }

    public TimeSpan Ramp { get; set; }

    public TimeSpan Warmup { get; set; } = TimeSpan.FromSeconds(3);

    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(20);

    public long MaxMessages { get; set; } = 1_000_000;

    public int Pairs { get; set; } = 1000;

    /// <summary>direct: where each recipient is owned relative to its sender: any, same (node) or cross.</summary>
    public string Placement { get; set; } = "any";

    public int GroupSize { get; set; } = 100;

    public int Groups { get; set; } = 2;

    public int Connections { get; set; } = 10_000;

    /// <summary>soak: idle clients (apps that only stay connected) besides the mixed load.</summary>
    public int Idle { get; set; } = 500;

    /// <summary>soak: a fault every this long.</summary>
    public TimeSpan FaultEvery { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>soak: how long a fault's window stays open after it was injected.</summary>
    public TimeSpan Settle { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>soak: the faults, injected in this order, round and round.</summary>
    public IReadOnlyList<string> Faults { get; set; } = ["join", "drain", "sigterm", "kill", "redis-master", "etcd"];

    public int ConnectRate { get; set; } = 1000;

    /// <summary>Each client's own keep-alive interval (<see cref="TimeSpan.Zero"/>: none).</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>abuse: the attack (errors, create-chat, offline-flood, connect-flood).</summary>
    public string Attack { get; set; } = "errors";

    /// <summary>abuse: attacking connections; 0 for the attack's own count.</summary>
    public int Attackers { get; set; }

    public List<int> WatchPids { get; set; } = [];

    public string? OutputDirectory { get; set; }

    public bool AllowRemote { get; init; }

    /// <summary>Parses a scenario's arguments as the command line does (tests use it); throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public static LoadOptions Parse(string scenario, string[] args)
    {
        var result = LoadCommands.Build().Parse([scenario, .. args]);
        if (result.Errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", result.Errors.Select(e => e.Message)));
        }

        return LoadCommands.Options(scenario, result);
    }

    public void Validate()
    {
        if (!AllowRemote && !Url.IsLoopback)
        {
            throw new ArgumentException($"{Url} is not a loopback address; pass --allow-remote to drive a remote fleet");
        }

        if (Duration > TimeSpan.FromMinutes(30) || Duration <= TimeSpan.Zero)
        {
            throw new ArgumentException("--duration is between 1s and 30m");
        }

        if (KeepAlive < TimeSpan.Zero)
        {
            throw new ArgumentException("--keep-alive is 0s or more");
        }

        if (Rate < 0 || Concurrency < 0 || Pairs < 1 || GroupSize < 2 || Groups < 1 || Connections < 1 || ConnectRate < 1)
        {
            throw new ArgumentException("counts and rates must be positive");
        }

        if (FaultEvery < TimeSpan.FromSeconds(5) || Faults.Count == 0 || Idle < 0)
        {
            throw new ArgumentException("--fault-every is at least 5s, --faults names at least one fault, --idle is not negative");
        }

        if (Window > 0 && Concurrency == 0)
        {
            Concurrency = Pairs * Window;
        }

        if (Rate == 0 && Concurrency == 0)
        {
            Concurrency = 100;
        }
    }
}
