using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using ChatNode.Auth;
using ChatNode.LoadTests.Engine;

namespace ChatNode.LoadTests;

/// <summary>
/// The load tool's command line: one command per scenario (sharing the load options), <c>compare</c> and <c>suite</c>.
/// Every command has its own <c>--help</c>; bad arguments are named without stack traces.
/// </summary>
public static class LoadCommands
{
    public static readonly string[] Scenarios = ["connect", "direct", "group", "offline", "mixed", "soak", "abuse"];

    /// <summary>The attacks of the abuse scenario.</summary>
    public static readonly string[] AttackKinds = ["errors", "create-chat", "offline-flood", "connect-flood"];

    /// <summary>Where direct puts each pair's recipient, relative to its sender's node.</summary>
    public static readonly string[] Placements = ["any", "same", "cross"];

    /// <summary>The faults the soak knows.</summary>
    public static readonly string[] FaultKinds = ["join", "drain", "sigterm", "kill", "redis-master", "etcd"];

    private static readonly Option<Uri> Url = new("--url")
    {
        Description = "Any node of the fleet (redirects are followed); loopback only unless --allow-remote.",
        DefaultValueFactory = _ => new Uri("ws://127.0.0.1:8080/ws"),
        CustomParser = r => Uri.TryCreate(r.Tokens[0].Value, UriKind.Absolute, out var url) && url.Scheme is "ws" or "wss" ? url : Error<Uri>(r, "a ws:// or wss:// URL"),
    };

    private static readonly Option<int> Local = new("--local")
    {
        Description = "Start a local fleet of N nodes (default 3) with scripts/services.sh, and stop it afterwards.",
        Arity = ArgumentArity.ZeroOrOne,
        CustomParser = r => r.Tokens.Count == 0 ? 3 : int.TryParse(r.Tokens[0].Value, CultureInfo.InvariantCulture, out var n) && n >= 1 ? n : Error<int>(r, "a node count of at least 1"),
    };

    private static readonly Option<string> Secret = new("--secret") { Description = "The cluster secret to mint tokens with (default: $CHATNODE_SECRET)." };
    private static readonly Option<int> Rate = Count("--rate", "Open loop: messages per second offered (with --ramp, reached linearly).", 0);
    private static readonly Option<int> Concurrency = Count("--concurrency", "Closed loop: sends in flight at all times (default 100 when no --rate).", 0);
    private static readonly Option<int> Window = Count("--window", "Closed loop: sends in flight per pair (concurrency = pairs x window).", 0);
    private static readonly Option<TimeSpan> Ramp = Duration("--ramp", "Time to reach the target rate.", TimeSpan.Zero);
    private static readonly Option<TimeSpan> Warmup = Duration("--warmup", "Load before measuring (not in latencies or rates).", TimeSpan.FromSeconds(3));
    private static readonly Option<TimeSpan> DurationOption = Duration("--duration", "Measured load time (at most 30m).", TimeSpan.FromSeconds(20));
    private static readonly Option<long> MaxMessages = new("--max-messages") { Description = "Stop sending after this many messages.", DefaultValueFactory = _ => 1_000_000 };
    private static readonly Option<int> Pairs = Count("--pairs", "direct, offline, mixed: sender/recipient pairs.", 1000);
    private static readonly Option<string> Placement = new("--placement")
    {
        Description = "direct: each recipient's node: any (random user ids), same (the sender's node) or cross (another node; a fleet of 2 or more).",
        DefaultValueFactory = _ => "any",
        CustomParser = r => Placements.Contains(r.Tokens[0].Value) ? r.Tokens[0].Value : Error<string>(r, $"one of {string.Join(", ", Placements)}"),
    };

    private static readonly Option<int> GroupSize = Count("--group-size", "group, mixed: members per group chat.", 100);
    private static readonly Option<int> Groups = Count("--groups", "group, mixed: group chats.", 2);
    private static readonly Option<int> Connections = Count("--connections", "connect: connections to open and hold.", 10_000);
    private static readonly Option<int> ConnectRate = Count("--connect-rate", "connect: connections opened per second.", 1000);
    private static readonly Option<TimeSpan> KeepAlive = Duration("--keep-alive", "Each client's own keep-alive interval (0: none, only answer the node's pings).", TimeSpan.FromSeconds(20));
    private static readonly Option<int[]> WatchPids = new("--watch-pids")
    {
        Description = "Processes whose CPU and memory to report, comma-separated (the first is a node).",
        CustomParser = r => r.Tokens[0].Value.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.TryParse(p, CultureInfo.InvariantCulture, out var pid) ? pid : -1).ToArray() is var pids && pids.All(p => p > 0)
            ? pids
            : Error<int[]>(r, "process ids such as 123,456"),
    };

    private static readonly Option<string> Out = new("--out") { Description = "The results folder (default build/load-results/<time>-<scenario>)." };
    private static readonly Option<bool> AllowRemote = new("--allow-remote") { Description = "Permit a --url that is not a loopback address." };

    private static readonly Option<int> Idle = Count("--idle", "soak: idle clients (apps that only stay connected) besides the mixed load.", 500);
    private static readonly Option<TimeSpan> FaultEvery = Duration("--fault-every", "soak: a fault every this long.", TimeSpan.FromSeconds(30));
    private static readonly Option<string[]> Faults = new("--faults")
    {
        Description = $"soak: the faults to inject in turn, comma-separated, from {string.Join(", ", FaultKinds)} (default: all).",
        DefaultValueFactory = _ => FaultKinds,
        CustomParser = r => r.Tokens[0].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is var kinds && kinds.Length > 0 && kinds.All(FaultKinds.Contains)
            ? kinds
            : Error<string[]>(r, $"a list of faults from {string.Join(", ", FaultKinds)}"),
    };

    private static readonly Option<TimeSpan> Settle = Duration("--settle", "soak: how long after a fault its window stays open (latencies of the others, clients coming back).", TimeSpan.FromSeconds(15));
    private static readonly Option<string[]> NodeSettings = new("--node-setting")
    {
        Description = "A setting for the nodes of --local, as Section:Key=Value (repeatable), e.g. Node:HandoffWindow=00:00:02.",
        DefaultValueFactory = _ => [],
        CustomParser = r => r.Tokens.Select(t => t.Value).ToArray() is var settings && settings.All(s => s.IndexOf('=', StringComparison.Ordinal) > 0)
            ? settings
            : Error<string[]>(r, "Section:Key=Value"),
    };

    private static readonly Option[] SoakOptionSet = [Idle, FaultEvery, Faults, Settle];

    private static readonly Option<string> Attack = new("--attack")
    {
        Description = $"abuse: the attack, one of {string.Join(", ", AttackKinds)}.",
        DefaultValueFactory = _ => "errors",
        CustomParser = r => AttackKinds.Contains(r.Tokens[0].Value) ? r.Tokens[0].Value : Error<string>(r, $"one of {string.Join(", ", AttackKinds)}"),
    };

    private static readonly Option<int> Attackers = Count("--attackers", "abuse: attacking connections (0: the attack's own count: errors 1, create-chat 4, offline-flood 3, connect-flood 2,000).", 0);

    private static readonly Option[] LoadOptionSet =
        [Url, Local, NodeSettings, Secret, Rate, Concurrency, Window, Ramp, Warmup, DurationOption, MaxMessages, Pairs, Placement, GroupSize, Groups, Connections, ConnectRate, KeepAlive, WatchPids, Out, AllowRemote];

    /// <summary>The commands; actions are attached by <see cref="Program"/>.</summary>
    public static RootCommand Build(
        Func<LoadOptions, CancellationToken, Task<int>>? runScenario = null,
        Func<int, CancellationToken, Task<int>>? runSuite = null,
        Func<string, string, int>? compare = null)
    {
        var root = new RootCommand("The chatnode load tool: drives a real fleet, checks that every confirmed message reached each recipient once " +
            "(exit code 1 otherwise), and writes report.json and report.html.");
        foreach (var scenario in Scenarios)
        {
            var command = new Command(scenario, Describe(scenario));
            foreach (var option in scenario switch { "soak" => [.. LoadOptionSet, .. SoakOptionSet], "abuse" => [.. LoadOptionSet, Attack, Attackers], _ => LoadOptionSet })
            {
                command.Options.Add(option);
            }

            if (runScenario is not null)
            {
                command.SetAction((result, cancellationToken) => Run(() => runScenario(Options(scenario, result), cancellationToken)));
            }

            root.Subcommands.Add(command);
        }

        var nodes = new Option<int>("--local") { Description = "Nodes of the local fleet (default 3).", DefaultValueFactory = _ => 3 };
        var suite = new Command("suite", "A short run of every scenario against one local fleet it starts and stops (about 2 minutes).") { nodes };
        if (runSuite is not null)
        {
            suite.SetAction((result, cancellationToken) => runSuite(result.GetValue(nodes), cancellationToken));
        }

        root.Subcommands.Add(suite);
        var first = new Argument<string>("A") { Description = "A report.json." };
        var second = new Argument<string>("B") { Description = "Another report.json, compared with A." };
        var compareCommand = new Command("compare", "Print the ratios of two runs' figures.") { first, second };
        if (compare is not null)
        {
            compareCommand.SetAction(result => compare(result.GetValue(first)!, result.GetValue(second)!));
        }

        root.Subcommands.Add(compareCommand);
        return root;
    }

    /// <summary>The options of one scenario run, validated; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public static LoadOptions Options(string scenario, ParseResult result)
    {
        var options = new LoadOptions
        {
            Scenario = scenario,
            Url = result.GetValue(Url)!,
            LocalNodes = result.GetResult(Local) is { Implicit: false } ? result.GetValue(Local) : scenario == "soak" ? 4 : 0,
            NodeSettings = result.GetValue(NodeSettings)!,
            Rate = result.GetValue(Rate),
            Concurrency = result.GetValue(Concurrency),
            Window = result.GetValue(Window),
            Ramp = result.GetValue(Ramp),
            Warmup = result.GetValue(Warmup),
            Duration = result.GetValue(DurationOption),
            MaxMessages = result.GetValue(MaxMessages),
            Pairs = result.GetValue(Pairs),
            Placement = result.GetValue(Placement)!,
            GroupSize = result.GetValue(GroupSize),
            Groups = result.GetValue(Groups),
            Connections = result.GetValue(Connections),
            ConnectRate = result.GetValue(ConnectRate),
            KeepAlive = result.GetValue(KeepAlive),
            WatchPids = [.. result.GetValue(WatchPids) ?? []],
            OutputDirectory = result.GetValue(Out),
            AllowRemote = result.GetValue(AllowRemote),
        };
        if (scenario == "soak")
        {
            options.Idle = result.GetValue(Idle);
            options.FaultEvery = result.GetValue(FaultEvery);
            options.Faults = result.GetValue(Faults)!;
            options.Settle = result.GetValue(Settle);
        }

        if (scenario == "abuse")
        {
            options.Attack = result.GetValue(Attack)!;
            options.Attackers = result.GetValue(Attackers);
        }

        if (result.GetValue(Secret) is { Length: > 0 } secret)
        {
            options.Secret = secret;
        }

        options.Validate();
        return options;
    }

    // Refusals of the options' cross-checks (LoadOptions.Validate) are named like parse errors: no stack trace, exit 2.
    private static async Task<int> Run(Func<Task<int>> run)
    {
        try
        {
            return await run().ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 2;
        }
    }

    private static string Describe(string scenario) => scenario switch
    {
        "connect" => "Open N authenticated connections at a rate and hold them: connect latency, failures, memory per connection.",
        "direct" => "N sender/recipient pairs in 1:1 chats: throughput and send-to-delivery latency.",
        "group" => "Group chats of G members: fan-out throughput and latency.",
        "offline" => "Recipients offline while senders send, then they reconnect: replay rate.",
        "mixed" => "Mostly 1:1, one send in five to a group, recipients cycling offline and back.",
        "abuse" => "One signed-in attacker against a node (--attack errors: malformed frames without reading; create-chat: 11,000 ids per request; offline-flood: 16 KiB messages to an offline user; connect-flood: upgrades of distinct clients, 200 at a time, held open) while a bystander pings: the node's RSS and CPU, the store's growth and the bystander's ping latency.",
        _ => "The mixed load and idle clients against a local fleet (default 4 nodes) while a fault is injected every --fault-every: " +
            "join, drain, sigterm, kill (then restart), redis-master, etcd. Reports each fault; exits 1 on any loss, duplicate or fault that failed.",
    };

    private static Option<int> Count(string name, string description, int defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r => int.TryParse(r.Tokens[0].Value, CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : Error<int>(r, "a whole number of at least 0"),
    };

    private static Option<TimeSpan> Duration(string name, string description, TimeSpan defaultValue) => new(name)
    {
        Description = description + " Written 0s, 30s, 2m.",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r => DurationText.TryParse(r.Tokens[0].Value, out var duration) ? duration : Error<TimeSpan>(r, "a duration such as 0s, 30s or 2m"),
    };

    private static T Error<T>(ArgumentResult result, string expected)
    {
        result.AddError($"'{string.Join(' ', result.Tokens.Select(t => t.Value))}' is not {expected}");
        return default!;
    }
}
