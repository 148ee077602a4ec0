
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary>
/// Runs store operations with retries on the failures a cluster produces while it heals (connection loss,
/// failover, CLUSTERDOWN, TRYAGAIN, a replica that did not acknowledge in time), within
/// <see cref="RedisStoreOptions.RetryBudget"/>: exponential backoff with jitter from 25 ms, capped at 500 ms, on the
/// node's <see cref="TimeProvider"/>. Every operation passed in must be idempotent. An operation that exhausts its budget
/// throws <see cref="StoreUnavailableException"/> (marked as possibly written unless it only reads); one Redis refuses
/// for memory (<c>OOM</c>) throws <see cref="StoreFullException"/> at once. Thread-safe.
/// </summary>
internal sealed class RedisRetry
{
    private static readonly ResiliencePropertyKey<long> Started = new("chatnode.store.started");
    private static readonly ResiliencePropertyKey<string> Operation = new("chatnode.store.operation");

    private static readonly TimeSpan FullLogInterval = TimeSpan.FromSeconds(10);

    // Operations that only read: their failure leaves the store as it was.
    private static readonly HashSet<string> Reads = new(StringComparer.Ordinal)
    {
        "message.get", "inbox.read", "chat.get", "chat.list", "chat.count", "chat.events", "client.list", "client.fanout", "attachment.get", "attachment.chats",
    };

    private readonly RedisStoreOptions _options;
    private readonly StorageMetrics _metrics;
    private readonly ILogger<RedisRetry> _logger;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _pipeline;
    private long _lastFullLog;

    public RedisRetry(IOptions<RedisStoreOptions> options, StorageMetrics metrics, ILogger<RedisRetry> logger, TimeProvider time)
    {
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(
                args.Outcome.Exception is { } ex && IsTransient(ex)
                && _time.GetElapsedTime(args.Context.Properties.GetValue(Started, 0)) < _options.RetryBudget),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(25),
            MaxDelay = TimeSpan.FromMilliseconds(500),
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                var operation = args.Context.Properties.GetValue(Operation, "?");
                StorageLog.OperationRetried(_logger, operation, args.AttemptNumber + 1, args.Outcome.Exception?.Message ?? "");
                _metrics.RecordRetry(operation);
                return default;
            },
        }).Build();
    }

    public async Task<T> RunAsync<T>(string operation, Func<Task<T>> action, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            // The first attempt runs directly: almost every call succeeds on it, and the retry pipeline (a context, a
            // few async frames) costs more than the call itself on the send path. A transient failure goes on in the
            // pipeline, whose budget counts from the first attempt. The action takes no token: every request of a
            // connection shares its token, and registering on it per store call contends on the token's lock.
            // Commands time out by themselves (CommandTimeout).
            T result;
            try
            {
                result = await action().ConfigureAwait(false);
            }
            catch (Exception first) when (IsTransient(first))
            {
                result = await RetryAsync(operation, new Attempts<T>(action, first), started, cancellationToken).ConfigureAwait(false);
            }

            _metrics.RecordOperation(operation, _time.GetElapsedTime(started), ok: true);
            return result;
        }
        catch (Exception ex) when (IsTransient(ex))
        {
            var elapsed = _time.GetElapsedTime(started);
            _metrics.RecordOperation(operation, elapsed, ok: false);
            StorageLog.OperationFailed(_logger, operation, elapsed, ex);
            throw new StoreUnavailableException($"Store operation {operation} failed for {elapsed.TotalSeconds:0.#} s.", ex, mayHaveWritten: !Reads.Contains(operation));
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("OOM", StringComparison.Ordinal))
        {
            _metrics.RecordFull(operation);
            LogFull(operation);
            throw new StoreFullException($"The store is at its memory limit and refused {operation}.", ex);
        }
    }

    // The attempts after a transient failure, until one succeeds, one fails otherwise, or the budget counted from the
    // first attempt is spent; the pipeline sees the first attempt's failure as its own, so the backoff (and its log and
    // metric) comes before the second attempt exactly as if it had made the first.
    private async Task<T> RetryAsync<T>(string operation, Attempts<T> attempts, long started, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(Started, started);
        context.Properties.Set(Operation, operation);
        try
        {
            return await _pipeline.ExecuteAsync(static async (_, next) => await next.NextAsync().ConfigureAwait(false), context, attempts).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private sealed class Attempts<T>(Func<Task<T>> action, Exception first)
    {
        private Exception? _first = first;

        // The first call replays the failure of the attempt made before the pipeline; every later call is an attempt.
        public Task<T> NextAsync() => Interlocked.Exchange(ref _first, null) is { } failed ? Task.FromException<T>(failed) : action();
    }

    // One warning per FullLogInterval however many writes are refused; every refusal is counted in chat.store.full.
    private void LogFull(string operation)
    {
        var last = Interlocked.Read(ref _lastFullLog);
        var now = _time.GetTimestamp();
        if ((last == 0 || _time.GetElapsedTime(last, now) >= FullLogInterval) && Interlocked.CompareExchange(ref _lastFullLog, now, last) == last)
        {
            StorageLog.StoreFull(_logger, operation);
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

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Store operation {Operation} gave up after {Elapsed}")]
    public static partial void OperationFailed(ILogger logger, string operation, TimeSpan elapsed, Exception exception);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Connected to Redis Cluster at {Endpoints}")]
    public static partial void Connected(ILogger logger, string endpoints);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Redis connection to {Endpoint} failed: {FailureType}")]
    public static partial void ConnectionFailed(ILogger logger, string endpoint, string failureType);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "The store is at its memory limit: Redis refused {Operation} (further refusals are counted, logged at most every 10 s)")]
    public static partial void StoreFull(ILogger logger, string operation);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "Redis {Endpoint} became a master (failover)")]
    public static partial void Failover(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Debug, Message = "Reading the shards' memory and replicas failed: {Reason}")]
    public static partial void ShardPollFailed(ILogger logger, string reason);
}

