using System.Text.RegularExpressions;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Node;

/// <summary>
/// The feature folders of ChatNode/ stack (docs/architecture.md, "Layers"): a folder may use the folders below it and
/// never one beside or above it. This reads every source file's references to ChatNode namespaces.
/// </summary>
[TestFixture]
[Fast]
public sealed partial class LayerTests
{
    /// <summary>Bottom first. Folders on one row are peers: neither may use the other.</summary>
    private static readonly string[][] Layers =
    [
        ["Lifecycle", "Diagnostics"],
        ["Protocol"],
        ["Connections"],
        ["Fleet"],
        ["Delivery"],
        ["Peering", "Media"],
        ["Commands"],
        ["Endpoints"],
        ["Hosting"],
        ["Cli"],
    ];

    /// <summary>Namespaces of other assemblies that share the ChatNode prefix (Protos, Auth, Storage, Registry).</summary>
    private static readonly string[] OtherAssemblies = ["Protocol.V1", "Protocol.Peer", "Protocol.Store", "Auth", "Storage", "Registry", "Client"];

    [Test]
    public void Every_folder_uses_only_the_folders_below_it()
    {
        var root = Path.Combine(TestEnvironment.RepositoryRoot, "ChatNode");
        var rank = Layers.SelectMany((row, i) => row.Select(folder => (folder, i))).ToDictionary(x => x.folder, x => x.i);
        var violations = new List<string>();
        var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToArray();
        Assert.That(files, Has.Length.GreaterThan(20), "the node's sources were found");
        foreach (var file in files)
        {
            var relative = Path.GetRelativePath(root, file);
            var folder = relative.Contains(Path.DirectorySeparatorChar) ? relative[..relative.IndexOf(Path.DirectorySeparatorChar)] : "(root)";
            Assert.That(rank.ContainsKey(folder), Is.True, $"{relative}: folder {folder} has no place in the layers; add it to LayerTests and docs/architecture.md");
            foreach (Match match in Reference().Matches(File.ReadAllText(file)))
            {
                var used = match.Groups["ns"].Value;
                if (OtherAssemblies.Any(other => used == other || used.StartsWith(other + ".", StringComparison.Ordinal)))
                {
                    continue;
                }

                var usedFolder = used.Split('.')[0];
                if (usedFolder == folder)
                {
                    continue;
                }

                if (!rank.TryGetValue(usedFolder, out var usedRank))
                {
                    violations.Add($"{relative} uses ChatNode.{used}, which is no known folder");
                }
                else if (usedRank >= rank[folder])
                {
                    violations.Add($"{relative} ({folder}) uses ChatNode.{used} ({usedFolder}), which is not below it");
                }
            }
        }

        Assert.That(violations, Is.Empty, string.Join('\n', violations));
    }

    // `using ChatNode.X;`, `ChatNode.X.Type` and `global::ChatNode.X` alike; comments are not code but are rare enough to fix by hand.
    [GeneratedRegex(@"(?<![\w.])(?:global::)?ChatNode\.(?<ns>[A-Z]\w*(?:\.[A-Z]\w*)*)")]
    private static partial Regex Reference();
}
