using System.Globalization;

namespace ChatNode.Storage;

/// <summary>
/// Delivery ids name an inbox entry and the item it refers to: <c>m.&lt;chatId&gt;.&lt;seq&gt;</c> for a message,
/// <c>u.&lt;chatId&gt;.&lt;version&gt;</c> for a chat event. They are the same for every recipient client, so a
/// push is serialized once per fan-out. Chat ids never contain a dot.
/// </summary>
public static class DeliveryId
{
    public static string ForMessage(string chatId, long seq) =>
        string.Create(CultureInfo.InvariantCulture, $"m.{chatId}.{seq}");

    public static string ForChatEvent(string chatId, long version) =>
        string.Create(CultureInfo.InvariantCulture, $"u.{chatId}.{version}");

    /// <summary>Parses a delivery id; false for anything this node did not mint.</summary>
    public static bool TryParse(string deliveryId, out bool isMessage, out string chatId, out long number)
    {
        isMessage = false;
        chatId = "";
        number = 0;
        if (deliveryId.Length < 5 || deliveryId[1] != '.')
        {
            return false;
        }

        var kind = deliveryId[0];
        if (kind != 'm' && kind != 'u')
        {
            return false;
        }

        var lastDot = deliveryId.LastIndexOf('.');
        if (lastDot <= 2 || !long.TryParse(deliveryId.AsSpan(lastDot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out number) || number <= 0)
        {
            return false;
        }

        chatId = deliveryId[2..lastDot];
        if (chatId.Contains('.', StringComparison.Ordinal))
        {
            return false;
        }

        isMessage = kind == 'm';
        return true;
    }
}
