using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatNode.Storage.Redis;

/// <summary>
/// Makes writes durable on replicas with Redis <c>WAIT</c>, coalesced per master: <c>WAIT</c> covers every earlier
/// write of the (shared) connection, so callers that arrive while one <c>WAIT</c> is in flight share the next one.
/// Under load this is a group commit: one round trip per master per batch, not per write.
/// </summary>
internal sealed class ReplicaAcknowledger
{
    private readonly IConnectionMultiplexer _connection;
    private readonly RedisStoreOptions _options;
    private readonly StorageMetrics _metrics;
    private readonly ConcurrentDictionary<EndPoint, ServerWaiter> _waiters = new();

    private readonly TimeProvider _time;

    public ReplicaAcknowledger(IConnectionMultiplexer connection, IOptions<RedisStoreOptions> options, StorageMetrics metrics, TimeProvider time)
    {
        _connection = connection;
        _options = options.Value;
        _metrics = metrics;
        _time = time;
    }

    /// <summary>Completes once the master owning <paramref name="key"/> has its writes so far on enough replicas.</summary>
    public Task EnsureAsync(RedisKey key) => _options.ReplicaAcks == 0 ? Task.CompletedTask : WaiterFor(key).WaitAsync();

    /// <summary>Completes once every master owning one of <paramref name="keys"/> has its writes so far on enough replicas.</summary>
    public Task EnsureAsync(IReadOnlyList<RedisKey> keys)
    {
        if (_options.ReplicaAcks == 0 || keys.Count == 0)
        {
            return Task.CompletedTask;
        }

        // A send's keys sit on one to three masters: a list scan finds the distinct ones without a set.
        var first = WaiterFor(keys[0]);
        List<ServerWaiter>? others = null;
        for (var i = 1; i < keys.Count; i++)
        {
            var waiter = WaiterFor(keys[i]);
            if (waiter != first && !(others?.Contains(waiter) ?? false))
            {
                (others ??= []).Add(waiter);
            }
        }

        if (others is null)
        {
            return first.WaitAsync();
        }

        var waits = new Task[others.Count + 1];
        waits[0] = first.WaitAsync();
        for (var i = 0; i < others.Count; i++)
        {
            waits[i + 1] = others[i].WaitAsync();
        }

        return Task.WhenAll(waits);
    }

    private ServerWaiter WaiterFor(RedisKey key)
    {
        var server = _connection.GetServer(key, null, CommandFlags.DemandMaster);
        return _waiters.TryGetValue(server.EndPoint, out var waiter)
            ? waiter
            : _waiters.GetOrAdd(server.EndPoint, static (_, state) => new ServerWaiter(state.server, state.self._options, state.self._metrics, state.self._time), (server, self: this));
    }

    private sealed class ServerWaiter
    {
        private readonly IServer _server;
        private readonly int _replicas;
        private readonly int _timeoutMs;
        private readonly StorageMetrics _metrics;
        private readonly TimeProvider _time;
        private readonly object _gate = new();
        private TaskCompletionSource? _next;
        private int _nextCallers;
        private bool _pumping;

        public ServerWaiter(IServer server, RedisStoreOptions options, StorageMetrics metrics, TimeProvider time)
        {
            _server = server;
            _metrics = metrics;
            _time = time;
            _replicas = options.ReplicaAcks;
            _timeoutMs = Math.Max(1, (int)options.ReplicaAckTimeout.TotalMilliseconds);
        }

        public Task WaitAsync()
        {
            lock (_gate)
            {
                _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _nextCallers++;
                var task = _next.Task;
                if (!_pumping)
                {
                    _pumping = true;
                    _ = PumpAsync();
                }

                return task;
            }
        }

        // The pump ends by itself when no caller is waiting and never throws (failures go to the callers),
        // so it needs no owner. Each round takes every caller registered so far and issues one WAIT for them all; callers
        // registered meanwhile wait for the next round, whose WAIT is sent after their writes were.
        private async Task PumpAsync()
        {
            await Task.Yield();
            while (true)
            {
                TaskCompletionSource batch;
                int callers;
                lock (_gate)
                {
                    if (_next is null)
                    {
                        _pumping = false;
                        return;
                    }

                    batch = _next;
                    callers = _nextCallers;
                    _next = null;
                    _nextCallers = 0;
                }

                try
                {
                    var started = _time.GetTimestamp();
                    var reply = await _server.ExecuteAsync("WAIT", _replicas, _timeoutMs).ConfigureAwait(false);
                    _metrics.RecordReplicaWait(_time.GetElapsedTime(started), callers);
                    var acknowledged = (long)reply;
                    if (acknowledged >= _replicas)
                    {
                        batch.SetResult();
                    }
                    else
                    {
                        batch.SetException(new StoreUnavailableException(
                            $"{acknowledged} of {_replicas} replicas of {_server.EndPoint} acknowledged within {_timeoutMs} ms."));
                    }
                }
                catch (Exception ex)
                {
                    batch.SetException(ex);
                }
            }
        }
    }
}
