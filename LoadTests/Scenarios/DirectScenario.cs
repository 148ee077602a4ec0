using ChatNode.Client;
using ChatNode.LoadTests.Engine;

namespace ChatNode.LoadTests.Scenarios;

/// <summary>
/// N pairs in 1:1 chats; operation i: the sender of pair i mod N sends to its recipient. With <c>--placement same</c> or
/// <c>cross</c> each recipient is a user owned by its sender's node or by another node (so every delivery stays on the
/// node, or every one crosses a peer stream).
/// </summary>
public sealed class DirectScenario : Scenario
{
    private ChatClient[] _senders = [];
    private ChatClient[] _recipientClients = [];
    private string[] _chats = [];
    private string[][] _recipients = [];
    private string[] _recipientUsers = [];

    public override string Name => "direct";

    public override async Task SetupAsync(LoadContext context, CancellationToken cancellationToken)
    {
        var pairs = context.Options.Pairs;
        (_senders, _recipientClients, _chats, _recipients, _recipientUsers) = (new ChatClient[pairs], new ChatClient[pairs], new string[pairs], new string[pairs][], new string[pairs]);
        await ForEachAsync(pairs, async i =>
        {
            var sender = context.User("s", i);
            var recipient = _recipientUsers[i] = await context.PlacedUserAsync("r", i, sender, context.Options.Placement, cancellationToken);
            _senders[i] = await context.ConnectAsync(sender, cancellationToken: cancellationToken);
            _recipientClients[i] = await context.ConnectAsync(recipient, cancellationToken: cancellationToken);
            _chats[i] = (await _senders[i].CreateChatAsync([recipient], cancellationToken: cancellationToken)).ChatId;
            _recipients[i] = [recipient + "/load"];
        }, cancellationToken);
    }

    public override Task SendOneAsync(LoadContext context, long index, CancellationToken cancellationToken)
    {
        var pair = (int)(index % _senders.Length);
        return context.SendAsync(_senders[pair], _chats[pair], _recipients[pair], cancellationToken);
    }

    /// <summary>Takes pair <paramref name="pair"/>'s recipient offline and back: what it missed must replay.</summary>
    internal async Task CycleRecipientAsync(LoadContext context, int pair, TimeSpan offline, CancellationToken cancellationToken)
    {
        await _recipientClients[pair].DisposeAsync();
        try
        {
            await Task.Delay(offline, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Come back regardless: the recipient must be online again for the completeness check.
        }

        _recipientClients[pair] = await context.ConnectAsync(_recipientUsers[pair], cancellationToken: cancellationToken);
    }
}
