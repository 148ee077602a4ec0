namespace ChatNode.Storage;

/// <summary>Readiness of the store, for the node's <c>/readyz</c>.</summary>
public interface IStoreHealth
{
    /// <summary>True when every master of the store answers; the reason names what does not.</summary>
    Task<(bool Ready, string Reason)> CheckAsync(CancellationToken cancellationToken);
}
