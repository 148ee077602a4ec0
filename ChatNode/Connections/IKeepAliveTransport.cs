namespace ChatNode.Connections;

/// <summary>
/// A transport under a connection's WebSocket that lets the node keep it alive without a timer per connection: it
/// tells when the client last sent anything and can write a ping between the WebSocket's own frames.
/// <see cref="KeepAliveSweep"/> pings the connections that were silent for <see cref="ConnectionOptions.KeepAliveInterval"/>
/// and aborts those still silent <see cref="ConnectionOptions.KeepAliveTimeout"/> later.
/// </summary>
public interface IKeepAliveTransport
{
    /// <summary>When bytes from the client last arrived, as a <see cref="TimeProvider.GetTimestamp"/> value.</summary>
    long LastReceived { get; }

    /// <summary>When <see cref="PingAsync"/> last wrote a ping, as a <see cref="TimeProvider.GetTimestamp"/> value; 0 if never.</summary>
    long LastPinged { get; }

    /// <summary>
    /// Writes a WebSocket ping frame (its pong is the client's sign of life), or nothing if a frame is being written
    /// right now (the next walk tries again). Does not wait for another writer.
    /// </summary>
    ValueTask PingAsync(CancellationToken cancellationToken);
}
