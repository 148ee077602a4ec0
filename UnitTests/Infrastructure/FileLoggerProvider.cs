using Microsoft.Extensions.Logging;

namespace ChatNode.UnitTests.Infrastructure;

/// <summary>
/// Writes the logs of in-process nodes to build/test-logs/nodes.log (the test runner does not show output of
/// background threads), each line tagged with the node id and the running test.
/// </summary>
public sealed class FileLoggerProvider(string nodeId) : ILoggerProvider
{
    private static readonly object Gate = new();
    private static readonly string LogPath = Path.Combine(TestEnvironment.BuildDirectory, "test-logs", "nodes.log");

    public ILogger CreateLogger(string categoryName) => new FileLogger(nodeId, categoryName);

    public void Dispose()
    {
    }

    private sealed class FileLogger(string nodeId, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} [{nodeId}] {category}: {formatter(state, exception)}";
            lock (Gate)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(LogPath)!);
                File.AppendAllText(LogPath, (exception is null ? line : line + Environment.NewLine + exception) + Environment.NewLine);
            }
        }
    }
}
