using ChatNode.Protocol.V1;
using System.Threading.Channels;

namespace ChatNode.UnitTests.Infrastructure;

public static class ChatAssert
{
    /// <summary>Reads <paramref name="count"/> items from a push channel within the deadline.</summary>
    public static async Task<List<T>> ReceiveAsync<T>(ChannelReader<T> reader, int count, string what, TimeSpan? timeout = null)
    {
        var received = new List<T>(count);
        using var deadline = new CancellationTokenSource(timeout ?? Poll.DefaultTimeout);
        try
        {
            while (received.Count < count)
            {
                received.Add(await reader.ReadAsync(deadline.Token));
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Timed out waiting for {what}: got {received.Count} of {count}.");
        }

        return received;
    }

    /// <summary>Asserts nothing arrives on the channel for <paramref name="quiet"/>.</summary>
    public static async Task NothingAsync<T>(ChannelReader<T> reader, TimeSpan quiet, string what)
    {
        using var window = new CancellationTokenSource(quiet);
        try
        {
            var item = await reader.ReadAsync(window.Token);
            Assert.Fail($"Expected no {what}, but got {item}.");
        }
        catch (OperationCanceledException)
        {
        }
    }

    public static async Task<ErrorCode> ErrorOfAsync(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (global::ChatNode.Client.ChatErrorException ex)
        {
            return ex.Code;
        }

        Assert.Fail("Expected an error frame, but the request succeeded.");
        return ErrorCode.Unspecified;
    }
}
