using ChatNode.Client;
using ChatNode.LoadTests.Engine;

namespace ChatNode.LoadTests.Scenarios;

/// <summary>
/// The default soak: mostly 1:1 traffic, one send in five to a group of G members, and recipients cycling offline and
/// back every two seconds (their inboxes replay what they missed).
/// </summary>
public sealed class MixedScenario : Scenario
{
    private readonly DirectScenario _direct = new();
    private readonly GroupScenario _group = new();
    private readonly CancellationTokenSource _stopCycling = new();
    private Task _cycling = Task.CompletedTask;

    public override string Name => "mixed";

    public override async Task SetupAsync(LoadContext context, CancellationToken cancellationToken)
    {
        await _direct.SetupAsync(context, cancellationToken);
        await _group.SetupAsync(context, cancellationToken);
        _cycling = CycleAsync(context, _stopCycling.Token);
    }

    public override Task SendOneAsync(LoadContext context, long index, CancellationToken cancellationToken) =>
        index % 5 == 4 ? _group.SendOneAsync(context, index / 5, cancellationToken) : _direct.SendOneAsync(context, index, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stopCycling.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async Task AfterLoadAsync(LoadContext context, CancellationToken cancellationToken)
    {
        // Cycling ends with the load; a recipient caught offline comes back before the completeness check.
        await _stopCycling.CancelAsync();
        await _cycling;
        Extra["offline_cycles"] = _cycles;
    }

    private int _cycles;

    // Every two seconds one of the first twentieth of the recipients goes offline for a second and comes back.
    private async Task CycleAsync(LoadContext context, CancellationToken cancellationToken)
    {
        var random = new Random(7);
        try
        {
            for (var round = 0; round < 1000 && !cancellationToken.IsCancellationRequested; round++)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
                await _direct.CycleRecipientAsync(context, random.Next(Math.Max(1, context.Options.Pairs / 20)), TimeSpan.FromSeconds(1), CancellationToken.None);
                _cycles++;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChatConnectionException)
        {
        }
    }
}
