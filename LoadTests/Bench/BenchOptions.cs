using System.Globalization;

namespace ChatNode.LoadTests.Bench;

/// <summary>Options shared by the bench scenarios.</summary>
public sealed class BenchOptions
{
    public const string Usage = """
        usage: ChatNode.LoadTests bench direct|idle [options]
          --url ws://127.0.0.1:8080/ws   node to drive (loopback only unless --allow-remote)
          --secret S                     cluster secret for tokens (default: $CHATNODE_SECRET)
          --pairs 1000                   direct: sender/recipient pairs
          --window 10                    direct: sends in flight per sender
          --rate 0                       direct: total messages/s offered (0 = as fast as the window allows)
          --duration 20s                 direct: sending time (bounded)
          --max-messages 2000000         direct: stop after this many sends
          --connections 10000            idle: connections to open and hold
          --watch-pids 1,2,3             processes whose CPU time and memory to report (node, Redis)
          --allow-remote                 permit a non-loopback --url
        """;

    public Uri Url { get; private set; } = new("ws://127.0.0.1:8080/ws");

    public string Secret { get; private set; } = Environment.GetEnvironmentVariable("CHATNODE_SECRET") ?? "";

    public int Pairs { get; private set; } = 1000;

    public int Window { get; private set; } = 10;

    public int Rate { get; private set; }

    public TimeSpan Duration { get; private set; } = TimeSpan.FromSeconds(20);

    public long MaxMessages { get; private set; } = 2_000_000;

    public int Connections { get; private set; } = 10_000;

    public IReadOnlyList<int> WatchPids { get; private set; } = [];

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        var allowRemote = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--url": options.Url = new Uri(Value()); break;
                case "--secret": options.Secret = Value(); break;
                case "--pairs": options.Pairs = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--window": options.Window = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--rate": options.Rate = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--duration": options.Duration = ParseDuration(Value()); break;
                case "--max-messages": options.MaxMessages = long.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--connections": options.Connections = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--watch-pids": options.WatchPids = Value().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--allow-remote": allowRemote = true; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        if (!allowRemote && !options.Url.IsLoopback)
        {
            throw new ArgumentException($"{options.Url} is not a loopback address; pass --allow-remote to drive a remote fleet");
        }

        if (options.Secret.Length < 16)
        {
            throw new ArgumentException("the cluster secret (--secret or CHATNODE_SECRET) is needed to mint tokens");
        }

        if (options.Duration > TimeSpan.FromMinutes(30))
        {
            throw new ArgumentException("--duration is at most 30m");
        }

        return options;
    }

    private static TimeSpan ParseDuration(string text) =>
        global::ChatNode.Program.TryParseDuration(text, TimeSpan.Zero, out var duration) && duration > TimeSpan.Zero
            ? duration
            : throw new ArgumentException($"bad duration '{text}' (use 30s, 2m)");
}
