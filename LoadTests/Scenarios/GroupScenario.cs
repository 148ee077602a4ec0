using ChatNode.Client;
using ChatNode.LoadTests.Engine;

namespace ChatNode.LoadTests.Scenarios;

/// <summary>Group chats of G members; operation i: a member of chat i mod C (rotating) sends to all others.</summary>
public sealed class GroupScenario : Scenario
{
    private ChatClient[][] _members = [];
    private string[][] _users = [];
    private string[] _chats = [];

    public override string Name => "group";

    public override async Task SetupAsync(LoadContext context, CancellationToken cancellationToken)
    {
        var (groups, size) = (context.Options.Groups, context.Options.GroupSize);
        _members = new ChatClient[groups][];
        _users = new string[groups][];
        _chats = new string[groups];
        for (var g = 0; g < groups; g++)
        {
            var group = g;
            _members[g] = new ChatClient[size];
            _users[g] = Enumerable.Range(0, size).Select(m => context.User($"g{group}m", m)).ToArray();
            await ForEachAsync(size, async m => _members[group][m] = await context.ConnectAsync(_users[group][m], cancellationToken: cancellationToken), cancellationToken);
            _chats[g] = (await _members[g][0].CreateChatAsync(_users[g][1..], $"load group {g}", cancellationToken)).ChatId;
        }

        Extra["fanout"] = size - 1;
    }

    public override Task SendOneAsync(LoadContext context, long index, CancellationToken cancellationToken)
    {
        var group = (int)(index % _chats.Length);
        var sender = (int)(index / _chats.Length % _members[group].Length);
        var recipients = _users[group].Where((_, m) => m != sender).Select(u => u + "/load").ToArray();
        return context.SendAsync(_members[group][sender], _chats[group], recipients, cancellationToken);
    }
}
