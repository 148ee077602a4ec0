using System.Globalization;

namespace ChatNode.Connections;

/// <summary>
/// The process's limit on open file descriptors, which caps the connections a node can hold: every socket is one,
/// and a process that runs out fails in places that cannot recover (the runtime's own threads and timers). Read from
/// <c>/proc/self/limits</c> (the soft limit; .NET raises it to the hard one at start).
/// </summary>
public static class DescriptorLimit
{
    /// <summary>The soft limit on open files, or null where it cannot be read (not Linux) or is unlimited.</summary>
    public static long? Read() => File.Exists("/proc/self/limits") ? Parse(File.ReadLines("/proc/self/limits")) : null;

    /// <summary>The "Max open files" soft limit from the lines of a <c>/proc/[pid]/limits</c> file.</summary>
    public static long? Parse(IEnumerable<string> lines)
    {
        foreach (var line in lines)
        {
            if (!line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                continue;
            }

            var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : null;
        }

        return null;
    }

    /// <summary>
    /// The client connections a node may hold under <paramref name="descriptors"/>: the limit less a twentieth (at
    /// least 256) kept for everything else the node opens (store, registry and peer connections, HTTP requests, files,
    /// connections being refused). 19,000 under a limit of 20,000.
    /// </summary>
    public static int ConnectionsUnder(long descriptors) =>
        (int)Math.Clamp(descriptors - Math.Max(256, descriptors / 20), 1, int.MaxValue);
}
