using ChatNode.Registry.Ring;
using Microsoft.Extensions.Logging;

namespace ChatNode.Fleet;

/// <summary>Fleet log events; EventIds 1009, 1013-1014 and 1200-1299.</summary>
internal static partial class FleetLog
{
    [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "Closing {Count} connections for shutdown")]
    public static partial void ClosingConnections(ILogger logger, int count);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Information, Message = "Node {NodeId} joined the fleet at {Url} (peer {PeerUrl}), ring epoch {Epoch}")]
    public static partial void Joined(ILogger logger, string nodeId, string url, string peerUrl, long epoch);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Error, Message = "Following ring epoch {Epoch} failed")]
    public static partial void FollowFailed(ILogger logger, long epoch, Exception exception);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Handed {Count} connections over to their new owners (ring epoch {Epoch})")]
    public static partial void HandedOff(ILogger logger, int count, long epoch);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "Node {NodeId} is {State} (ring epoch {Epoch})")]
    public static partial void StateChanged(ILogger logger, string nodeId, NodeState state, long epoch);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Warning, Message = "Could not write this node's record as {State}")]
    public static partial void RecordWriteFailed(ILogger logger, NodeState state, Exception exception);

    [LoggerMessage(EventId = 1209, Level = LogLevel.Warning, Message = "The fleet did not learn of the drain; closing {Connections} connections without handing them over")]
    public static partial void DrainUnannounced(ILogger logger, int connections);

    [LoggerMessage(EventId = 1211, Level = LogLevel.Information, Message = "Node {NodeId} left the fleet (ring epoch {Epoch})")]
    public static partial void Left(ILogger logger, string nodeId, long epoch);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Information, Message = "Draining: {Connections} connections to move, at most {Rate}/s")]
    public static partial void Draining(ILogger logger, int connections, int rate);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "Drain timed out with {Connections} connections left; closing them")]
    public static partial void DrainTimedOut(ILogger logger, int connections);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Warning, Message = "Join timed out: {Node} still hands over {Remaining} connections; turning active")]
    public static partial void JoinTimedOut(ILogger logger, string node, int remaining);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Debug, Message = "Asking {Node} for its handoff progress failed")]
    public static partial void HandoffStatusFailed(ILogger logger, string node, Exception exception);
}
