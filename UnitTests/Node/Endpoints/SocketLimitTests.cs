using System.Net;
using System.Net.Sockets;
using ChatNode.Connections;
using ChatNode.Endpoints;
using ChatNode.Hosting;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Node.Endpoints;

/// <summary>The client listener's socket limit: its size, and on a real Kestrel listener whose connections stay open until the client closes.</summary>
[TestFixture]
[Fast]
public sealed class SocketLimitTests
{
    [Test]
    public void The_client_listener_keeps_half_the_spare_descriptors_for_sockets_above_the_connection_limit()
    {
        Assert.That(SocketLimit.For(new ConnectionOptions(), 20_000), Is.EqualTo(19_500), "19,000 WebSockets, 500 more sockets, 500 descriptors for the rest");
        Assert.That(SocketLimit.For(new ConnectionOptions { MaxConnections = 5_000 }, 20_000), Is.EqualTo(12_500));
        Assert.That(SocketLimit.For(new ConnectionOptions { MaxConnections = 30_000 }, 20_000), Is.EqualTo(30_000), "a limit set above the descriptors is the operator's");
        Assert.That(SocketLimit.For(new ConnectionOptions(), null), Is.Null, "unknown descriptors, no limit set");
        Assert.That(SocketLimit.For(new ConnectionOptions { MaxConnections = 100 }, null), Is.EqualTo(1_100));
    }

    [Test]
    public async Task Sockets_past_the_limit_are_closed_at_once_and_a_closed_one_frees_its_place()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<ConnectionMetrics>();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.UseSocketLimit(2).Run(HoldUntilClosedAsync)));
        await using var app = builder.Build();
        await app.StartAsync();
        var port = new Uri(app.ListenUrl()).Port;

        using var first = await OpenAsync(port);
        using var second = await OpenAsync(port);
        Assert.That(await EchoesAsync(first) && await EchoesAsync(second), Is.True, "two sockets fit");
        Assert.That(await NewSocketEchoesAsync(port), Is.False, "the third is closed as soon as it is accepted");
        Assert.That(await EchoesAsync(second), Is.True, "the open ones are left alone");

        first.Close();
        await Poll.UntilAsync(() => NewSocketEchoesAsync(port), "a socket once the first closed");
        second.Close();
        await app.StopAsync();
    }

    // Echoes what arrives until the client closes.
    private static async Task HoldUntilClosedAsync(ConnectionContext connection)
    {
        while (true)
        {
            var read = await connection.Transport.Input.ReadAsync();
            foreach (var segment in read.Buffer)
            {
                await connection.Transport.Output.WriteAsync(segment);
            }

            connection.Transport.Input.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                return;
            }
        }
    }

    private static async Task<TcpClient> OpenAsync(int port)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        return tcp;
    }

    // Whether a new socket is served (false: it was closed or reset, which may surface already at the connect).
    private static async Task<bool> NewSocketEchoesAsync(int port)
    {
        try
        {
            using var tcp = await OpenAsync(port);
            return await EchoesAsync(tcp);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    // Whether the server answers a byte on this socket (false: it closed or reset it).
    private static async Task<bool> EchoesAsync(TcpClient tcp)
    {
        try
        {
            using var deadline = new CancellationTokenSource(Poll.DefaultTimeout);
            await tcp.GetStream().WriteAsync(new byte[] { 42 }, deadline.Token);
            var buffer = new byte[1];
            return await tcp.GetStream().ReadAsync(buffer, deadline.Token) == 1;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
