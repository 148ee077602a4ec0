using ChatNode.LoadTests.Bench;

namespace ChatNode.LoadTests;

/// <summary>
/// The load tool. <c>bench direct</c>: pairs exchanging 1:1 messages with a window of sends in flight;
/// <c>bench idle</c>: many idle connections and the node's memory per connection. Every run is bounded in
/// messages and time and checks that each confirmed message reached its recipient.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length < 2 || args[0] != "bench")
        {
            Console.Error.WriteLine(BenchOptions.Usage);
            return 2;
        }

        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args[2..]);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message + "\n" + BenchOptions.Usage);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        return args[1] switch
        {
            "direct" => await DirectBench.RunAsync(options, cancel.Token),
            "idle" => await IdleBench.RunAsync(options, cancel.Token),
            _ => Fail($"unknown scenario '{args[1]}'"),
        };
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message + "\n" + BenchOptions.Usage);
        return 2;
    }
}
