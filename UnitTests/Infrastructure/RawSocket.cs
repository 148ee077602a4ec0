using System.Net;
using System.Net.WebSockets;
using System.Text;
using ChatNode.Protocol.V1;
using Google.Protobuf;

namespace ChatNode.UnitTests.Infrastructure;

/// <summary>A bare WebSocket for tests that must send what the reference client never would.</summary>
public sealed class RawSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;

    private RawSocket(ClientWebSocket socket) => _socket = socket;

    public WebSocketState State => _socket.State;

    public int? CloseCode => (int?)_socket.CloseStatus;

    /// <summary>Connects; returns the socket, or the HTTP status that refused the upgrade.</summary>
    public static async Task<(RawSocket? Socket, HttpStatusCode Status)> TryConnectAsync(Uri url, string? token, string? subprotocol = "chat.v1+proto", bool tokenInQuery = false)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (subprotocol is not null)
        {
            socket.Options.AddSubProtocol(subprotocol);
        }

        if (token is not null && !tokenInQuery)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }

        var target = token is not null && tokenInQuery ? new Uri(url + "?access_token=" + Uri.EscapeDataString(token)) : url;
        try
        {
            using var timeout = new CancellationTokenSource(Poll.DefaultTimeout);
            await socket.ConnectAsync(target, timeout.Token);
            return (new RawSocket(socket), socket.HttpStatusCode);
        }
        catch (WebSocketException)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            return (null, status);
        }
    }

    public static async Task<RawSocket> ConnectAsync(Uri url, string token, string subprotocol = "chat.v1+proto")
    {
        var (socket, status) = await TryConnectAsync(url, token, subprotocol);
        Assert.That(socket, Is.Not.Null, $"upgrade refused with HTTP {(int)status}");
        return socket!;
    }

    public Task SendBinaryAsync(byte[] bytes) => _socket.SendAsync(bytes, WebSocketMessageType.Binary, true, CancellationToken.None);

    /// <summary>Sends <paramref name="bytes"/> as one binary message split into <paramref name="fragments"/> WebSocket frames.</summary>
    public async Task SendFragmentsAsync(byte[] bytes, int fragments)
    {
        var size = (bytes.Length + fragments - 1) / fragments;
        for (var offset = 0; offset < bytes.Length; offset += size)
        {
            var count = Math.Min(size, bytes.Length - offset);
            await _socket.SendAsync(bytes.AsMemory(offset, count), WebSocketMessageType.Binary, offset + count == bytes.Length, CancellationToken.None);
        }
    }

    public Task SendTextAsync(string text) => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task SendAsync(ClientFrame frame) => SendBinaryAsync(frame.ToByteArray());

    /// <summary>The next frame, decoded as protobuf (or JSON for text frames); null when the node closed the connection.</summary>
    public async Task<ServerFrame?> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? Poll.DefaultTimeout);
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        WebSocketReceiveResult result;
        try
        {
            do
            {
                result = await _socket.ReceiveAsync(chunk, deadline.Token);
                buffer.Write(chunk, 0, result.Count);
            }
            while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("Timed out waiting for a frame from the node.");
            throw;
        }

        if (result.MessageType == WebSocketMessageType.Close)
        {
            return null;
        }

        return result.MessageType == WebSocketMessageType.Binary
            ? ServerFrame.Parser.ParseFrom(buffer.ToArray())
            : JsonParser.Default.Parse<ServerFrame>(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>Reads frames until one answers <paramref name="requestId"/>.</summary>
    public async Task<ServerFrame> ResultAsync(ulong requestId)
    {
        while (true)
        {
            var frame = await ReceiveAsync();
            Assert.That(frame, Is.Not.Null, $"connection closed (code {CloseCode}) before the result of request {requestId}");
            if (frame!.RequestId == requestId)
            {
                return frame;
            }
        }
    }

    /// <summary>Reads until the node closes the connection; returns the close code.</summary>
    public async Task<int?> ClosedAsync()
    {
        while (await ReceiveAsync() is not null)
        {
        }

        return CloseCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }

        _socket.Dispose();
    }
}
