using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Deploy;

/// <summary>
/// The Dockerfile and the Kubernetes manifests, checked offline by scripts/deploy-check/check.mjs (no Docker, no
/// cluster): the Dockerfile's instructions and COPY sources, k8s/ built as kustomize builds it, and every object against
/// the Kubernetes API schemas. Not in the fast tier: it needs node and the npm packages of scripts/deploy-check, which
/// scripts/services.sh install puts in place.
/// </summary>
[TestFixture]
public sealed partial class DeployArtifactsTests
{
    /// <summary>What k8s/ holds: the namespace, the Secret, the ConfigMap, and the Redis Cluster, etcd and chat node objects.</summary>
    private const int ObjectsInK8s = 19;

    [Test]
    public async Task The_Dockerfile_and_every_object_in_k8s_pass_the_offline_deploy_check()
    {
        var root = TestEnvironment.RepositoryRoot;
        Assert.That(
            Directory.Exists(Path.Combine(root, "scripts", "deploy-check", "node_modules")),
            Is.True,
            "the npm packages of scripts/deploy-check are missing: run scripts/services.sh install");

        var start = new ProcessStartInfo("node") { WorkingDirectory = root, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine("scripts", "deploy-check", "check.mjs"));
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await Poll.WithinAsync(process.WaitForExitAsync().ContinueWith(_ => true), "node scripts/deploy-check/check.mjs to exit", TimeSpan.FromSeconds(60));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var report = await output + await error;
        Assert.That(process.ExitCode, Is.Zero, report);
        var summary = Summary().Match(report);
        Assert.That(summary.Success, Is.True, "no summary line in the output:\n" + report);
        Assert.That(int.Parse(summary.Groups["validated"].Value, CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(ObjectsInK8s), report);
    }

    // The check's last line: "deploy-check: 19 objects validated, 0 skipped, 0 failed; no problems".
    [GeneratedRegex(@"^deploy-check: (?<validated>\d+) objects validated", RegexOptions.Multiline)]
    private static partial Regex Summary();
}
