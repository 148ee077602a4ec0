using System.Globalization;
using ChatNode.Auth;

namespace ChatNode.LoadTests.Engine;

/// <summary>Command-line options of a load run. Every run is bounded by a duration and a message count.</summary>
public sealed class LoadOptions
{
    public const string Usage = """
        usage: dotnet run --project LoadTests -- <scenario> [options]
               dotnet run --project LoadTests -- compare A/report.json B/report.json
               dotnet run --project LoadTests -- suite [options]      direct, group, offline and connect, short
        scenarios: connect | direct | group | offline | mixed
          --url ws://127.0.0.1:8080/ws  any node of the fleet (redirects are followed); loopback only unless --allow-remote
          --local [N]                   start a local fleet of N nodes (default 3) with scripts/, stop it afterwards
          --secret S                    cluster secret for tokens (default: $CHATNODE_SECRET, or build/dev-secret with --local)
          --rate R                      open loop: R messages/s offered (with --ramp, reached linearly)
          --concurrency C               closed loop: C sends in flight at all times (default 100 when no --rate)
          --window W                    closed loop: W sends in flight per pair (concurrency = pairs x W)
          --ramp 5s                     time to reach the target rate
          --warmup 3s                   load before measuring (not in latencies or rates)
          --duration 20s                measured load time (at most 30m)
          --max-messages 1000000        stop sending after this many messages
          --pairs 1000                  direct, offline, mixed: sender/recipient pairs
          --group-size 100              group, mixed: members per group chat
          --groups 2                    group, mixed: group chats
          --connections 10000           connect: connections to open and hold
          --connect-rate 1000           connect: connections opened per second
          --watch-pids 1,2              processes whose CPU and memory to report (the first is a node)
          --out DIR                     results folder (default build/load-results/<time>-<scenario>)
          --allow-remote                permit a non-loopback --url
        """;

    public string Scenario { get; private set; } = "";

    public Uri Url { get; set; } = new("ws://127.0.0.1:8080/ws");

    public int LocalNodes { get; private set; }

    public string Secret { get; set; } = Environment.GetEnvironmentVariable("CHATNODE_SECRET") ?? "";

    public int Rate { get; set; }

    public int Concurrency { get; set; }

    public int Window { get; set; }

    public TimeSpan Ramp { get; set; }

    public TimeSpan Warmup { get; set; } = TimeSpan.FromSeconds(3);

    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(20);

    public long MaxMessages { get; set; } = 1_000_000;

    public int Pairs { get; set; } = 1000;

    public int GroupSize { get; set; } = 100;

    public int Groups { get; set; } = 2;

    public int Connections { get; set; } = 10_000;

    public int ConnectRate { get; set; } = 1000;

    public List<int> WatchPids { get; set; } = [];

    public string? OutputDirectory { get; set; }

    public bool AllowRemote { get; private set; }

    public static LoadOptions Parse(string scenario, string[] args)
    {
        var options = new LoadOptions { Scenario = scenario };
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int() => int.Parse(Value(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--url": options.Url = new Uri(Value()); break;
                case "--local":
                    options.LocalNodes = 3;
                    if (i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var nodes))
                    {
                        options.LocalNodes = Math.Max(1, nodes);
                        i++;
                    }

                    break;
                case "--secret": options.Secret = Value(); break;
                case "--rate": options.Rate = Int(); break;
                case "--concurrency": options.Concurrency = Int(); break;
                case "--window": options.Window = Int(); break;
                case "--ramp": options.Ramp = ParseDuration(Value()); break;
                case "--warmup": options.Warmup = ParseDuration(Value()); break;
                case "--duration": options.Duration = ParseDuration(Value()); break;
                case "--max-messages": options.MaxMessages = long.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--pairs": options.Pairs = Int(); break;
                case "--group-size": options.GroupSize = Int(); break;
                case "--groups": options.Groups = Int(); break;
                case "--connections": options.Connections = Int(); break;
                case "--connect-rate": options.ConnectRate = Int(); break;
                case "--watch-pids": options.WatchPids = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture))]; break;
                case "--out": options.OutputDirectory = Value(); break;
                case "--allow-remote": options.AllowRemote = true; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        options.Validate();
        return options;
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

        if (Rate < 0 || Concurrency < 0 || Pairs < 1 || GroupSize < 2 || Groups < 1 || Connections < 1 || ConnectRate < 1)
        {
            throw new ArgumentException("counts and rates must be positive");
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

    private static TimeSpan ParseDuration(string text) =>
        DurationText.TryParse(text, out var duration) ? duration : throw new ArgumentException($"bad duration '{text}' (use 0s, 30s, 2m)");
}
