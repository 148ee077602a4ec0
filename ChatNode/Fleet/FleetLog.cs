using Microsoft.Extensions.Logging;

namespace ChatNode.Fleet;

/// <summary>Fleet log events; EventIds 1009, 1013-1014 and 1200-1299.</summary>
internal static partial class FleetLog
{
    [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "Closing {Count} connections for shutdown")]
    public static partial void ClosingConnections(ILogger logger, int count);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Information, Message = "Node {NodeId} joined the fleet at {Url} (peer {PeerUrl}), ring epoch {Epoch}")]
    public static partial void Joined(ILogger logger, string nodeId, string url, string peerUrl, long epoch);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Information, Message = "Redirected {Count} connections after ring epoch {Epoch}")]
    public static partial void Rebalanced(ILogger logger, int count, long epoch);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Error, Message = "Following ring epoch {Epoch} failed")]
    public static partial void RebalanceFailed(ILogger logger, long epoch, Exception exception);
}
