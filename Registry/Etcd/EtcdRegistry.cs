using System.Text.Json;
using System.Text.Json.Serialization;
using ChatNode.Registry.Ring;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace ChatNode.Registry.Etcd;

/// <summary>
/// Membership in etcd. Each node puts <c>&lt;prefix&gt;&lt;nodeId&gt;</c> (a JSON <see cref="NodeInfo"/>) under a lease
/// of <see cref="RegistryOptions.LeaseTtl"/> kept alive at a third of the TTL; every node lists the prefix and then
/// watches it from the next revision, publishing a new <see cref="RingSnapshot"/> per change with the etcd revision as
/// its epoch. When etcd is unreachable the last snapshot stays in force; the watch re-lists and the registration
/// re-grants a lease and re-puts the record once etcd answers again. Both loops are owned here and stopped by
/// <see cref="DisposeAsync"/>.
/// </summary>
public sealed class EtcdRegistry : IClusterRegistry
{
    private readonly RegistryOptions _options;
    private readonly ILogger<EtcdRegistry> _logger;
    private readonly TimeProvider _time;
    // The longest wait between two attempts to reach etcd again: well inside the shortest lease TTL (2 s).
    private static readonly TimeSpan ReconnectBackoff = TimeSpan.FromMilliseconds(500);

    private readonly GrpcChannel _channel;
    private readonly KV.KVClient _kv;
    private readonly Lease.LeaseClient _lease;
    private readonly Watch.WatchClient _watch;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstSnapshot = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private readonly RingPublisher _ring = new();
    private NodeInfo? _self;
    private long _leaseId;
    private Task _watchLoop = Task.CompletedTask;
    private Task _registrationLoop = Task.CompletedTask;
    private CancellationTokenSource? _registration;
    private int _disposed;
    private ulong _clusterId;

    public EtcdRegistry(IOptions<RegistryOptions> options, ILogger<EtcdRegistry> logger, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _options = options.Value;
        _logger = logger;
        _channel = GrpcChannel.ForAddress(_options.Endpoints.Split(',')[0].Trim(), new GrpcChannelOptions
        {
            // etcd restores its leases with a fresh TTL when it comes back; the node must reach it again within that
            // TTL or its record expires and the fleet reshuffles. gRPC's own reconnect backoff grows to two minutes.
            InitialReconnectBackoff = TimeSpan.FromMilliseconds(100),
            MaxReconnectBackoff = ReconnectBackoff,
        });
        _kv = new KV.KVClient(_channel);
        _lease = new Lease.LeaseClient(_channel);
        _watch = new Watch.WatchClient(_channel);
    }

    public RingSnapshot Current => _ring.Current;

    public IAsyncEnumerable<RingSnapshot> WatchAsync(CancellationToken cancellationToken) => _ring.WatchAsync(cancellationToken);

    private ByteString PrefixKey => ByteString.CopyFromUtf8(_options.Prefix);

    // The range end of a prefix is the prefix with its last byte incremented ('/' + 1 = '0').
    private ByteString PrefixEnd => ByteString.CopyFromUtf8(_options.Prefix[..^1] + (char)(_options.Prefix[^1] + 1));

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _watchLoop = WatchLoopAsync(_stop.Token);
        try
        {
            await _firstSnapshot.Task.WaitAsync(_options.StartTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            RegistryLog.StartTimedOut(_logger, (int)_options.StartTimeout.TotalMilliseconds);
        }
    }

    public Task RegisterAsync(NodeInfo self, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _self = self;
            if (_registration is null)
            {
                _registration = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                _registrationLoop = RegistrationLoopAsync(_registration.Token);
            }
        }

        return WaitUntilListedAsync(m => m.NodeId == self.NodeId, cancellationToken);
    }

    public async Task UpdateAsync(NodeInfo self, CancellationToken cancellationToken)
    {
        long lease;
        lock (_gate)
        {
            if (_self is null || _self.NodeId != self.NodeId)
            {
                throw new InvalidOperationException("Only the registered node's own record can be updated.");
            }

            _self = self;
            lease = _leaseId;
        }

        // Without a lease the registration loop puts the new record when it registers again.
        if (lease != 0)
        {
            await PutSelfAsync(self, lease, cancellationToken).ConfigureAwait(false);
        }

        await WaitUntilListedAsync(m => m == self, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeregisterAsync(CancellationToken cancellationToken)
    {
        CancellationTokenSource? registration;
        long lease;
        string? nodeId;
        lock (_gate)
        {
            registration = _registration;
            _registration = null;
            lease = _leaseId;
            _leaseId = 0;
            nodeId = _self?.NodeId;
        }

        if (registration is null)
        {
            return;
        }

        await registration.CancelAsync().ConfigureAwait(false);
        await _registrationLoop.ConfigureAwait(false);
        registration.Dispose();
        if (lease != 0)
        {
            try
            {
                // Revoking the lease deletes the record at once: the others drop this node without waiting for the TTL.
                await _lease.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, deadline: _time.GetUtcNow().UtcDateTime.AddSeconds(3), cancellationToken: cancellationToken)
                    .ConfigureAwait(false);
                RegistryLog.Deregistered(_logger, nodeId ?? "?");
            }
            catch (RpcException)
            {
                // etcd unreachable: the lease expires by itself within its TTL.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await DeregisterAsync(CancellationToken.None).ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_watchLoop, _registrationLoop).ConfigureAwait(false);
        _ring.Complete();
        _stop.Dispose();
        _channel.Dispose();
    }

    /// <summary>Stops every loop without revoking the lease, as a killed process would. For fault tests only.</summary>
    internal async Task AbandonForTestsAsync()
    {
        lock (_gate)
        {
            _registration = null;
            _leaseId = 0;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_watchLoop, _registrationLoop).ConfigureAwait(false);
    }

    // Completes once a snapshot lists a member matching `listed`, or the start timeout passed.
    private async Task WaitUntilListedAsync(Func<NodeInfo, bool> listed, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.StartTimeout);
        try
        {
            await foreach (var snapshot in _ring.WatchAsync(timeout.Token).ConfigureAwait(false))
            {
                if (snapshot.Members.Any(listed))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            RegistryLog.StartTimedOut(_logger, (int)_options.StartTimeout.TotalMilliseconds);
        }
    }

    private async Task WatchLoopAsync(CancellationToken stop)
    {
        await Task.Yield();
        var backoff = Backoff(TimeSpan.FromSeconds(2), (attempt, delay, ex) =>
        {
            if (attempt == 0)
            {
                RegistryLog.WatchFailed(_logger, Current.Epoch, (int)delay.TotalMilliseconds, ex);
            }
            else
            {
                RegistryLog.WatchRetrying(_logger, attempt + 1, (int)delay.TotalMilliseconds, ex.Message);
            }
        });
        await RunForeverAsync(backoff, WatchOnceAsync, stop).ConfigureAwait(false);
    }

    // Lists the members, then follows their changes. Throws while etcd does not answer (the caller backs off); returns
    // when a watch that etcd had answered ends, so that the next attempt starts at once with a fresh backoff.
    private async ValueTask WatchOnceAsync(CancellationToken stop)
    {
        var range = await _kv.RangeAsync(new RangeRequest { Key = PrefixKey, RangeEnd = PrefixEnd }, cancellationToken: stop).ConfigureAwait(false);
        var members = new Dictionary<string, NodeInfo>(StringComparer.Ordinal);
        foreach (var kv in range.Kvs)
        {
            Apply(members, kv.Key.ToStringUtf8(), kv.Value, put: true);
        }

        Publish(range.Header, members);
        using var call = _watch.Watch(cancellationToken: stop);
        await call.RequestStream.WriteAsync(new WatchRequest
        {
            CreateRequest = new WatchCreateRequest { Key = PrefixKey, RangeEnd = PrefixEnd, StartRevision = range.Header.Revision + 1 },
        }, stop).ConfigureAwait(false);
        var answered = false;
        try
        {
            while (await call.ResponseStream.MoveNext(stop).ConfigureAwait(false))
            {
                answered = true;
                var response = call.ResponseStream.Current;
                if (response.Canceled || response.CompactRevision > 0)
                {
                    return;
                }

                foreach (var change in response.Events)
                {
                    Apply(members, change.Kv.Key.ToStringUtf8(), change.Kv.Value, change.Type == Mvccpb.Event.Types.EventType.Put);
                }

                if (response.Events.Count > 0)
                {
                    Publish(response.Header, members);
                }
            }
        }
        catch (Exception ex) when (answered && !stop.IsCancellationRequested && IsTransient(ex))
        {
            RegistryLog.WatchFailed(_logger, Current.Epoch, 0, ex);
        }
    }

    private async Task RegistrationLoopAsync(CancellationToken stop)
    {
        await Task.Yield();
        var backoff = Backoff(ReconnectBackoff, (attempt, delay, ex) =>
        {
            if (attempt == 0)
            {
                RegistryLog.RegistrationLost(_logger, _self?.NodeId ?? "?", (int)delay.TotalMilliseconds, ex);
            }
            else
            {
                RegistryLog.RegistrationRetrying(_logger, _self?.NodeId ?? "?", attempt + 1, (int)delay.TotalMilliseconds, ex.Message);
            }
        });
        await RunForeverAsync(backoff, RegisterOnceAsync, stop).ConfigureAwait(false);
    }

    // Grants a lease, puts the record and keeps the lease alive. Throws while etcd does not answer (the caller backs
    // off); returns when a registration etcd had accepted is lost, so that it is granted again at once.
    private async ValueTask RegisterOnceAsync(CancellationToken stop)
    {
        var ttlSeconds = Math.Max(2, (long)_options.LeaseTtl.TotalSeconds);
        var grant = await _lease.LeaseGrantAsync(new LeaseGrantRequest { TTL = ttlSeconds }, cancellationToken: stop).ConfigureAwait(false);
        NodeInfo self;
        lock (_gate)
        {
            _leaseId = grant.ID;
            self = _self!;
        }

        await PutSelfAsync(self, grant.ID, stop).ConfigureAwait(false);
        RegistryLog.Registered(_logger, self.NodeId, self.Generation, grant.ID);
        try
        {
            using var keepAlive = _lease.LeaseKeepAlive(cancellationToken: stop);
            while (!stop.IsCancellationRequested)
            {
                await keepAlive.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = grant.ID }, stop).ConfigureAwait(false);
                using var answer = CancellationTokenSource.CreateLinkedTokenSource(stop);
                answer.CancelAfter(TimeSpan.FromSeconds(ttlSeconds));
                if (!await keepAlive.ResponseStream.MoveNext(answer.Token).ConfigureAwait(false) || keepAlive.ResponseStream.Current.TTL <= 0)
                {
                    throw new InvalidOperationException($"lease {grant.ID:x} expired");
                }

                await Task.Delay(TimeSpan.FromSeconds(ttlSeconds / 3.0), _time, stop).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (!stop.IsCancellationRequested && (IsTransient(ex) || ex is OperationCanceledException))
        {
            RegistryLog.RegistrationLost(_logger, self.NodeId, 0, ex);
        }
    }

    /// <summary>
    /// Runs <paramref name="once"/> until <paramref name="stop"/>: each failure waits the next backoff step; a normal
    /// return (the service had answered) starts over at once with a fresh backoff.
    /// </summary>
    private static async Task RunForeverAsync(ResiliencePipeline backoff, Func<CancellationToken, ValueTask> once, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await backoff.ExecuteAsync(once, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch (RpcException) when (stop.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>Retries transient failures forever: exponential backoff with jitter from 100 ms up to <paramref name="max"/>.</summary>
    private ResiliencePipeline Backoff(TimeSpan max, Action<int, TimeSpan, Exception> onRetry) =>
        new ResiliencePipelineBuilder { TimeProvider = _time }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex && !args.Context.CancellationToken.IsCancellationRequested && IsTransient(ex)),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(100),
            MaxDelay = max,
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                onRetry(args.AttemptNumber, args.RetryDelay, args.Outcome.Exception!);
                return default;
            },
        }).Build();

    private static bool IsTransient(Exception ex) => ex is RpcException or IOException or HttpRequestException or InvalidOperationException;

    private Task<PutResponse> PutSelfAsync(NodeInfo self, long lease, CancellationToken cancellationToken) =>
        _kv.PutAsync(new PutRequest
        {
            Key = ByteString.CopyFromUtf8(_options.Prefix + self.NodeId),
            Value = ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(self, NodeInfoContext.Default.NodeInfo)),
            Lease = lease,
        }, cancellationToken: cancellationToken).ResponseAsync;

    private void Apply(Dictionary<string, NodeInfo> members, string key, ByteString value, bool put)
    {
        if (!put)
        {
            members.Remove(key);
            return;
        }

        try
        {
            if (JsonSerializer.Deserialize(value.Span, NodeInfoContext.Default.NodeInfo) is { } node && node.VirtualNodes > 0)
            {
                members[key] = node;
                return;
            }
        }
        catch (JsonException)
        {
        }

        RegistryLog.MalformedMember(_logger, key);
        members.Remove(key);
    }

    private void Publish(ResponseHeader header, Dictionary<string, NodeInfo> members)
    {
        bool published;
        RingSnapshot snapshot;
        lock (_gate)
        {
            // Epochs only move forward: a re-list after a reconnect may not go back in time. A different etcd cluster
            // (recreated from scratch) restarts its revisions, so the epoch follows it rather than freezing the ring.
            var sameCluster = _clusterId == 0 || header.ClusterId == _clusterId;
            _clusterId = header.ClusterId;
            snapshot = new RingSnapshot(header.Revision, members.Values);
            published = _ring.Publish(snapshot, force: !sameCluster);
        }

        _firstSnapshot.TrySetResult();
        if (published)
        {
            RegistryLog.RingChanged(_logger, snapshot.Epoch, string.Join(", ", snapshot.Members.Select(m => $"{m.NodeId}({m.State})")));
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(NodeInfo))]
internal sealed partial class NodeInfoContext : JsonSerializerContext;
