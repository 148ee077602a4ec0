using System.Diagnostics;

namespace ChatNode.UnitTests.Infrastructure;

/// <summary>Runs scripts/services.sh, which started the services of this test run.</summary>
public static class Services
{
    public static void Run(params string[] arguments)
    {
        var script = Path.GetFullPath(Path.Combine(TestEnvironment.BuildDirectory, "..", "scripts", "services.sh"));
        var start = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        Assert.That(process.WaitForExit(60_000) && process.ExitCode == 0, Is.True, $"services.sh {string.Join(' ', arguments)} failed: {output}");
    }
}
