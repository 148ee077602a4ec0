using ChatNode.Auth;
using ChatNode.Connections;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;
using ChatNode.Storage;

namespace ChatNode.Commands;

public sealed partial class CommandDispatcher
{
    private async Task<ServerFrame> AckAsync(ClientConnection connection, Ack command, CancellationToken cancellationToken)
    {
        if (command.DeliveryIds.Count == 0)
        {
            throw BadRequest("ack needs at least one delivery id.");
        }

        if (command.DeliveryIds.Count > _options.MaxAckBatch)
        {
            throw new CommandException(ErrorCode.TooLarge, $"One ack carries at most {_options.MaxAckBatch} delivery ids.");
        }

        foreach (var id in command.DeliveryIds)
        {
            if (!DeliveryId.TryParse(id, out _, out _, out _))
            {
                throw BadRequest($"'{Truncate(id)}' is not a delivery id.");
            }
        }

        if (command.Quiet)
        {
            // No count to answer: the ids may ride with other quiet acks of this connection in one removal.
            await connection.QuietAcks.AcknowledgeAsync(command.DeliveryIds, ids => RemoveAsync(connection, ids, cancellationToken)).ConfigureAwait(false);
            return new ServerFrame { AckResult = new AckResult() };
        }

        return new ServerFrame { AckResult = new AckResult { Acknowledged = (uint)await RemoveAsync(connection, command.DeliveryIds, cancellationToken).ConfigureAwait(false) } };
    }

    private async Task<int> RemoveAsync(ClientConnection connection, IReadOnlyList<string> deliveryIds, CancellationToken cancellationToken)
    {
        var removed = await _inbox.RemoveAsync(connection.Address, deliveryIds, cancellationToken).ConfigureAwait(false);
        connection.Acknowledge(deliveryIds);
        _deliveryMetrics.Acked(removed);
        return removed;
    }

    private async Task<ServerFrame> DeactivateClientAsync(ClientConnection connection, DeactivateClient command, CancellationToken cancellationToken)
    {
        if (!Ids.IsValidClientId(command.ClientId))
        {
            throw BadRequest("clientId must be a valid client id.");
        }

        var target = new ClientAddress(connection.Address.UserId, command.ClientId);
        if (!await _clients.DeactivateAsync(target, _auth.MaxTokenLifetime, cancellationToken).ConfigureAwait(false))
        {
            throw new CommandException(ErrorCode.NotFound, "No such client.");
        }

        // The deactivated client's connection closes; this one only after its result has been queued.
        if (_registry.Find(target) is { } targetConnection)
        {
            if (targetConnection == connection)
            {
                connection.RequestCloseAfterResult(CloseCode.ClientDeactivated, "client deactivated");
            }
            else
            {
                targetConnection.Close(CloseCode.ClientDeactivated, "client deactivated");
            }
        }

        return new ServerFrame { DeactivateClientResult = new DeactivateClientResult() };
    }

    private async Task<ServerFrame> ListClientsAsync(ClientConnection connection, CancellationToken cancellationToken)
    {
        var clients = await _clients.ListAsync(connection.Address.UserId, cancellationToken).ConfigureAwait(false);
        var result = new ListClientsResult();
        result.Clients.Add(clients.Select(c => new ClientInfo { ClientId = c.ClientId, RegisteredAtUnixMs = c.RegisteredAtMs }));
        return new ServerFrame { ListClientsResult = result };
    }
}
