using Microsoft.Extensions.Logging;

namespace ChatNode.Delivery;

/// <summary>Delivery log events; EventIds 1008 and 1300-1399.</summary>
internal static partial class DeliveryLog
{
    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "Redelivery sweep failed")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Deactivated {Client}: its inbox holds {Max} unacknowledged entries")]
    public static partial void InboxOverflowed(ILogger logger, string client, int max);
}
