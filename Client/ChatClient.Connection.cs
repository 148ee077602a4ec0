using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using ChatNode.Protocol;
using ChatNode.Protocol.V1;
using Google.Protobuf;
using Polly;
using Polly.Retry;

namespace ChatNode.Client;

public sealed partial class ChatClient
{
    private const string EpochParameter = "ring_epoch";

    // The node that welcomed the client last (or the redirect to follow next), tried first on every reconnect.
    private Uri? _route;

    // Set by a redirect frame on the receive loop; taken by the reconnect loop once that connection ended.
    private RedirectTarget? _redirect;

    /// <summary>
    /// One connect round: the node that served the client last, then every seed in order, each following up to
    /// <see cref="ChatClientOptions.MaxRedirects"/> redirects, until a node welcomes the client. Throws
    /// <see cref="ChatConnectionException"/> (the last failure) when none did.
    /// </summary>
    private async Task ConnectRoundAsync(CancellationToken cancellationToken)
    {
        var candidates = _options.AllSeeds().ToList();
        if (_route is { } route)
        {
            candidates.Remove(route);
            candidates.Insert(0, route);
        }

        ChatConnectionException? last = null;
        foreach (var candidate in candidates)
        {
            try
            {
                await ConnectViaAsync(candidate, epoch: null, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (ChatConnectionException ex)
            {
                last = ex;
            }
        }

        throw last!;
    }

    // Connects at `url`, following redirects (each with the epoch its node decided by); caches the node that welcomed.
    private async Task ConnectViaAsync(Uri url, ulong? epoch, CancellationToken cancellationToken)
    {
        var redirects = 0;
        for (var hop = 0; ; hop++)
        {
            var socket = new ClientWebSocket();
            socket.Options.AddSubProtocol(_options.Encoding == ChatEncoding.Proto ? ChatProtocol.ProtoSubprotocol : ChatProtocol.JsonSubprotocol);
            socket.Options.SetRequestHeader("Authorization", "Bearer " + await _options.TokenProvider(cancellationToken).ConfigureAwait(false));
            socket.Options.CollectHttpResponseDetails = true;
            socket.Options.KeepAliveInterval = _options.KeepAliveInterval;
            ServerFrame? first;
            try
            {
                await socket.ConnectAsync(epoch is { } e ? WithEpoch(url, e) : url, cancellationToken).ConfigureAwait(false);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.RequestTimeout);
                first = await ReceiveFrameAsync(socket, new ArrayBufferWriter<byte>(1024), timeout.Token).ConfigureAwait(false);
            }
            catch (WebSocketException ex)
            {
                var status = socket.HttpStatusCode;
                socket.Dispose();
                if (status == HttpStatusCode.Unauthorized)
                {
                    throw new ChatConnectionException($"the node refused the token (401) at {url}", ex);
                }

                throw new ChatConnectionException($"could not connect to {url}: {(status == 0 ? ex.Message : status)}", ex);
            }
            catch (Exception ex) when (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new ChatConnectionException($"no welcome from {url} within the request timeout", ex);
            }

            if (first?.BodyCase == ServerFrame.BodyOneofCase.Redirect && Uri.TryCreate(first.Redirect.Url, UriKind.Absolute, out var next))
            {
                socket.Abort();
                socket.Dispose();
                if (hop >= _options.MaxRedirects)
                {
                    throw new ChatConnectionException($"more than {_options.MaxRedirects} redirects (last to {next})");
                }

                (url, epoch) = (next, first.Redirect.Epoch);
                Interlocked.Increment(ref _redirectsFollowed);
                redirects++;
                continue;
            }

            if (first is null)
            {
                var close = new CloseInfo((int?)socket.CloseStatus, socket.CloseStatusDescription);
                socket.Dispose();
                throw new ChatConnectionException($"{url} closed the connection at once ({close.Code}: {close.Reason})");
            }

            _replayed = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            Welcome = null;
            _socket?.Dispose();
            _socket = socket;
            _route = url;
            Handle(first);
            Interlocked.Increment(ref _connections);
            _options.OnConnectionChanged?.Invoke(new ConnectionEvent(_time.GetUtcNow(), Welcome?.NodeId, url, null, redirects));
            _connected.TrySetResult();
            WakeOutbox();
            return;
        }
    }

    /// <summary>
    /// Keeps the client connected: after a connection ends, follows the redirect it carried at once, and otherwise
    /// waits a jittered first delay and runs connect rounds with exponential backoff and jitter (from
    /// <see cref="ChatClientOptions.ReconnectMinDelay"/> to <see cref="ChatClientOptions.ReconnectMaxDelay"/>) until one
    /// succeeds. Stops on a terminal close code (4100-4199), when reconnecting is off, or when disposed.
    /// </summary>
    private async Task RunAsync()
    {
        var stop = _disposed.Token;
        var backoff = new ResiliencePipelineBuilder { TimeProvider = _time }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(!stop.IsCancellationRequested && args.Outcome.Exception is ChatConnectionException or OperationCanceledException),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = _options.ReconnectMinDelay,
            MaxDelay = _options.ReconnectMaxDelay,
            MaxRetryAttempts = int.MaxValue,
        }).Build();
        while (!stop.IsCancellationRequested)
        {
            var close = await ReceiveLoopAsync(_socket!).ConfigureAwait(false);
            _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _options.OnConnectionChanged?.Invoke(new ConnectionEvent(_time.GetUtcNow(), null, null, close, 0));
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new ChatConnectionException("the connection closed before the result arrived"));
            }

            if (stop.IsCancellationRequested)
            {
                break;
            }

            var terminal = close.Code is >= 4100 and < 4200;
            if (terminal || !_options.AutoReconnect)
            {
                _closed.TrySetResult(close);
                break;
            }

            try
            {
                var redirect = _redirect;
                _redirect = null;
                if (redirect is not null && await TryFollowAsync(redirect.Url, redirect.Epoch, stop).ConfigureAwait(false))
                {
                    Interlocked.Increment(ref _redirectsFollowed);
                    continue;
                }

                // Spread the reconnects of many clients that lost their node at the same moment.
                await Task.Delay(_options.ReconnectMinDelay * (0.5 + Random.Shared.NextDouble()), _time, stop).ConfigureAwait(false);
                await backoff.ExecuteAsync(async ct => await ConnectRoundAsync(ct).ConfigureAwait(false), stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
        }

        _closed.TrySetResult(new CloseInfo(null, "client disposed"));
    }

    // A redirect is followed at once, without backoff; false when that node did not take the client.
    private async Task<bool> TryFollowAsync(Uri url, ulong epoch, CancellationToken stop)
    {
        try
        {
            await ConnectViaAsync(url, epoch, stop).ConfigureAwait(false);
            return true;
        }
        catch (ChatConnectionException)
        {
            return false;
        }
    }

    private async Task<CloseInfo> ReceiveLoopAsync(ClientWebSocket socket)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (await ReceiveFrameAsync(socket, buffer, _disposed.Token).ConfigureAwait(false) is { } frame)
            {
                Handle(frame);
            }

            if (socket.State == WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2), _time);
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token).ConfigureAwait(false);
            }

            return new CloseInfo((int?)socket.CloseStatus, socket.CloseStatusDescription);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or InvalidProtocolBufferException or InvalidJsonException)
        {
            return new CloseInfo(null, ex.Message);
        }
    }

    /// <summary>The next frame, or null when the node closed the connection.</summary>
    private async Task<ServerFrame?> ReceiveFrameAsync(ClientWebSocket socket, ArrayBufferWriter<byte> buffer, CancellationToken cancellationToken)
    {
        buffer.ResetWrittenCount();
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.GetMemory(4096), cancellationToken).ConfigureAwait(false);
            buffer.Advance(result.Count);
        }
        while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

        return result.MessageType == WebSocketMessageType.Close ? null : Decode(buffer.WrittenSpan);
    }

    private ServerFrame Decode(ReadOnlySpan<byte> payload) => _options.Encoding == ChatEncoding.Proto
        ? ServerFrame.Parser.ParseFrom(payload)
        : ChatProtocol.ParseServerFrameJson(payload);

    private void Handle(ServerFrame frame)
    {
        if (frame.RequestId != 0)
        {
            if (_pending.TryGetValue(frame.RequestId, out var pending))
            {
                pending.TrySetResult(frame);
            }

            return;
        }

        switch (frame.BodyCase)
        {
            case ServerFrame.BodyOneofCase.NewMessage:
                Deliver(frame.NewMessage, new DedupeKey(frame.NewMessage.ChatId, DedupeKind.Message, frame.NewMessage.Seq), frame.NewMessage.DeliveryId, _messages.Writer);
                break;
            case ServerFrame.BodyOneofCase.ChatUpdate:
                Deliver(frame.ChatUpdate, new DedupeKey(frame.ChatUpdate.Chat?.ChatId ?? "", DedupeKind.ChatUpdate, frame.ChatUpdate.Chat?.Version ?? 0), frame.ChatUpdate.DeliveryId, _updates.Writer);
                break;
            case ServerFrame.BodyOneofCase.Welcome:
                Welcome = frame.Welcome;
                break;
            case ServerFrame.BodyOneofCase.InboxReplayed:
                _replayed.TrySetResult((int)frame.InboxReplayed.Count);
                break;
            case ServerFrame.BodyOneofCase.Redirect:
                _redirect = Uri.TryCreate(frame.Redirect.Url, UriKind.Absolute, out var url) ? new RedirectTarget(url, frame.Redirect.Epoch) : null;
                break;
            case ServerFrame.BodyOneofCase.Error:
                LastConnectionError = frame.Error;
                break;
        }
    }

    // Hands a push to the application once and acknowledges it (also a repeat, which the node must stop pushing). Once
    // the client is being disposed nothing is handed over or acknowledged: the node pushes it again to the next client.
    private void Deliver<T>(T push, DedupeKey key, string deliveryId, System.Threading.Channels.ChannelWriter<T> application)
    {
        if (_disposing)
        {
            return;
        }

        Interlocked.Increment(ref _pushes);
        if (_dedupe.TryAccept(key))
        {
            application.TryWrite(push);
        }
        else
        {
            Interlocked.Increment(ref _duplicates);
        }

        AutoAck(deliveryId);
    }

    private static Uri WithEpoch(Uri url, ulong epoch)
    {
        var builder = new UriBuilder(url);
        var query = builder.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !p.StartsWith(EpochParameter + "=", StringComparison.Ordinal))
            .Append($"{EpochParameter}={epoch.ToString(CultureInfo.InvariantCulture)}");
        builder.Query = string.Join('&', query);
        return builder.Uri;
    }

    private sealed record RedirectTarget(Uri Url, ulong Epoch);
}
