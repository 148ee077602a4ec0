using System.CommandLine;

namespace ChatNode.Cli;

/// <summary>The <c>chatnode</c> command (<see cref="ChatNodeCommands"/>): serve, token, ring, route.</summary>
public static class Program
{
    /// <summary>Runs the command; bad arguments print what is wrong and the command's help, and exit with 2.</summary>
    public static async Task<int> Main(string[] args)
    {
        var result = ChatNodeCommands.Build().Parse(args);
        // The node's host handles SIGTERM and Ctrl-C itself (it drains, which takes longer than the parser's grace time).
        var exitCode = await result.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
        return result.Errors.Count > 0 ? 2 : exitCode;
    }
}
