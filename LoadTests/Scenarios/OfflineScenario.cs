using System.Diagnostics;
using ChatNode.Client;
using ChatNode.LoadTests.Engine;

namespace ChatNode.LoadTests.Scenarios;

/// <summary>
/// Recipients register, go offline, senders send; then the recipients reconnect and replay their inboxes. Reports the
/// replay rate (messages per second from reconnect until every confirmed message arrived).
/// </summary>
public sealed class OfflineScenario : Scenario
{
    private ChatClient[] _senders = [];
    private string[] _chats = [];
    private string[] _recipients = [];

    public override string Name => "offline";

    public override async Task SetupAsync(LoadContext context, CancellationToken cancellationToken)
    {
        var pairs = context.Options.Pairs;
        (_senders, _chats, _recipients) = (new ChatClient[pairs], new string[pairs], new string[pairs]);
        await ForEachAsync(pairs, async i =>
        {
            _recipients[i] = context.User("r", i);

            // A bare connection registers the recipient's client; it then stays offline during the load.
            await using (await ChatClient.ConnectAsync(new ChatClientOptions
            {
                Url = context.Options.Url,
                TokenProvider = _ => ValueTask.FromResult(context.Token(_recipients[i], "load")),
            }, cancellationToken))
            {
            }

            _senders[i] = await context.ConnectAsync(context.User("s", i), cancellationToken: cancellationToken);
            _chats[i] = (await _senders[i].CreateChatAsync([_recipients[i]], cancellationToken: cancellationToken)).ChatId;
        }, cancellationToken);
    }

    public override Task SendOneAsync(LoadContext context, long index, CancellationToken cancellationToken)
    {
        var pair = (int)(index % _senders.Length);
        return context.SendAsync(_senders[pair], _chats[pair], [_recipients[pair] + "/load"], cancellationToken);
    }

    public override async Task AfterLoadAsync(LoadContext context, CancellationToken cancellationToken)
    {
        var expected = context.Stats.Completeness.ExpectedDeliveries;
        var before = context.Stats.Delivered;
        var clock = Stopwatch.StartNew();
        await ForEachAsync(_recipients.Length, i => context.ConnectAsync(_recipients[i], cancellationToken: cancellationToken), cancellationToken);
        while (!context.Stats.Completeness.IsComplete && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(20, cancellationToken);
        }

        Extra["replayed"] = context.Stats.Delivered - before;
        Extra["replay_seconds"] = clock.Elapsed.TotalSeconds;
        Extra["replay_per_second"] = (context.Stats.Delivered - before) / Math.Max(0.001, clock.Elapsed.TotalSeconds);
        Extra["expected"] = expected;
    }
}
