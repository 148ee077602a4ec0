
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary>
/// Runs store operations with retries on the failures a cluster produces while it heals (connection loss,
/// failover, CLUSTERDOWN, TRYAGAIN, a replica that did not acknowledge in time), within
/// <see cref="RedisStoreOptions.RetryBudget"/>. Every operation passed in must be idempotent.
/// </summary>
internal sealed class RedisRetry
{
    private readonly RedisStoreOptions _options;
    private readonly StorageMetrics _metrics;
    private readonly ILogger<RedisRetry> _logger;
    private readonly TimeProvider _time;

    public RedisRetry(IOptions<RedisStoreOptions> options, StorageMetrics metrics, ILogger<RedisRetry> logger, TimeProvider time)
    {
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _time = time;
    }

    public async Task<T> RunAsync<T>(string operation, Func<Task<T>> action, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(25);
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                // No WaitAsync(token): every request of a connection shares its token, and registering on it per
                // store call contends on the token's lock. Commands time out by themselves (CommandTimeout).
                var result = await action().ConfigureAwait(false);
                _metrics.RecordOperation(operation, _time.GetElapsedTime(started), ok: true);
                return result;
            }
            catch (Exception ex) when (IsTransient(ex))
            {
                var elapsed = _time.GetElapsedTime(started);
                if (elapsed + delay > _options.RetryBudget)
                {
                    _metrics.RecordOperation(operation, elapsed, ok: false);
                    StorageLog.OperationFailed(_logger, operation, attempt, ex);
                    throw ex as StoreUnavailableException ?? new StoreUnavailableException($"Store operation {operation} failed after {attempt} attempts.", ex);
                }

                StorageLog.OperationRetried(_logger, operation, attempt, ex.Message);
                _metrics.RecordRetry(operation);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
            }
        }
    }

    public Task RunAsync(string operation, Func<Task> action, CancellationToken cancellationToken) =>
        RunAsync(operation, async () =>
        {
            await action().ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private static bool IsTransient(Exception ex) => ex switch
    {
        StoreUnavailableException => true,
        RedisConnectionException => true,
        RedisTimeoutException => true,
        RedisServerException server => IsTransientServerError(server.Message),
        TimeoutException => true,
        _ => false,
    };

    private static bool IsTransientServerError(string message) =>
        message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal)
        || message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
        || message.StartsWith("LOADING", StringComparison.Ordinal)
        || message.StartsWith("READONLY", StringComparison.Ordinal)
        || message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
        || message.StartsWith("MOVED", StringComparison.Ordinal)
        || message.StartsWith("ASK", StringComparison.Ordinal)
        || message.StartsWith("NOREPLICAS", StringComparison.Ordinal);
}

internal static partial class StorageLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Store operation {Operation} failed (attempt {Attempt}), retrying: {Reason}")]
    public static partial void OperationRetried(ILogger logger, string operation, int attempt, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Store operation {Operation} gave up after {Attempt} attempts")]
    public static partial void OperationFailed(ILogger logger, string operation, int attempt, Exception exception);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Connected to Redis Cluster at {Endpoints}")]
    public static partial void Connected(ILogger logger, string endpoints);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Redis connection to {Endpoint} failed: {FailureType}")]
    public static partial void ConnectionFailed(ILogger logger, string endpoint, string failureType);
}

