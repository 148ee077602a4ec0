namespace ChatNode.Cli;

/// <summary>The <c>chatnode</c> command (<see cref="ChatNodeCommands"/>): serve, token, ring, route.</summary>
public static class Program
{
    /// <summary>Runs the command; bad arguments print what is wrong and the command's help, and exit with 2.</summary>
    public static async Task<int> Main(string[] args)
    {
        var result = ChatNodeCommands.Build().Parse(args);
        var exitCode = await result.InvokeAsync().ConfigureAwait(false);
        return result.Errors.Count > 0 ? 2 : exitCode;
    }
}
