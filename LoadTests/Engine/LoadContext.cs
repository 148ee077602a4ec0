using System.Diagnostics;
using System.Globalization;
using ChatNode.Auth;
using ChatNode.Client;

namespace ChatNode.LoadTests.Engine;

/// <summary>
/// What scenarios share: options, statistics, tokens, the local fleet (when the run started one), and clients whose
/// deliveries feed the statistics. Every client's connection changes and deliveries are observable, with the node each
/// client is on, for fault reports.
/// </summary>
public sealed class LoadContext : IAsyncDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string?> _nodeOf = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string[]> _pendingSends = new(StringComparer.Ordinal);
    private readonly TokenService _tokens;
    private readonly List<ChatClient> _clients = [];
    private readonly List<Task> _receivers = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SeqDedupe> _dedupes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lazy<HttpClient> _routes = new(() => new HttpClient { Timeout = TimeSpan.FromSeconds(10) });

    public LoadContext(LoadOptions options)
    {
        Options = options;
        _tokens = new TokenService(new AuthOptions { Secret = options.Secret }, TimeProvider.System);
        RunId = Guid.NewGuid().ToString("N")[..8];
    }

    public LoadOptions Options { get; }

    public RunStats Stats { get; } = new();

    public string RunId { get; }

    /// <summary>The fleet this run started (with --local, or the soak); null against a remote fleet.</summary>
    public LocalFleet? Fleet { get; set; }

    /// <summary>A client (user/client) was welcomed by a node or lost its connection. Raised on the client's receive loop.</summary>
    public event Action<string, ConnectionEvent>? ConnectionChanged;

    /// <summary>A client (user/client) on a node (null while disconnected) was handed a timed message after this many Stopwatch ticks.</summary>
    public event Action<string, string?, long>? Delivered;

    /// <summary>The node a client (user/client) is connected to now; null while it is disconnected.</summary>
    public string? NodeOf(string key) => _nodeOf.GetValueOrDefault(key);

    /// <summary>Every client's key and the node it is on now.</summary>
    public IReadOnlyDictionary<string, string?> Placement => new Dictionary<string, string?>(_nodeOf, StringComparer.Ordinal);

    public string User(string role, int index) => $"{role}{RunId}-{index}";

    /// <summary>
    /// A user of <paramref name="role"/> for pair <paramref name="index"/> whose owner node is <paramref name="other"/>'s
    /// (<paramref name="placement"/> "same") or another ("cross"): the candidates <c>User(role, index)</c>, then with a
    /// suffix, asked of the fleet's <c>GET /v1/route</c> until one fits. "any" takes the first candidate unasked.
    /// </summary>
    public async Task<string> PlacedUserAsync(string role, int index, string other, string placement, CancellationToken cancellationToken)
    {
        var candidate = User(role, index);
        if (placement == "any")
        {
            return candidate;
        }

        var owner = await OwnerAsync(other, cancellationToken);
        for (var attempt = 1; attempt <= 64; attempt++)
        {
            if ((await OwnerAsync(candidate, cancellationToken) == owner) == (placement == "same"))
            {
                return candidate;
            }

            candidate = $"{User(role, index)}-{attempt}";
        }

        throw new InvalidOperationException($"no user for --placement {placement} in 64 tries: 'cross' needs a fleet of at least two nodes");
    }

    // The node id that owns the user, by the answering node's view of the ring.
    private async Task<string> OwnerAsync(string user, CancellationToken cancellationToken)
    {
        var route = new UriBuilder(Options.Url) { Scheme = Options.Url.Scheme == "wss" ? "https" : "http", Path = "/v1/route", Query = "user=" + Uri.EscapeDataString(user) }.Uri;
        using var answer = await _routes.Value.GetAsync(route, cancellationToken);
        answer.EnsureSuccessStatusCode();
        using var json = await System.Text.Json.JsonDocument.ParseAsync(await answer.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        return json.RootElement.GetProperty("nodeId").GetString() ?? throw new InvalidOperationException($"{route} named no node");
    }

    public string Token(string user, string clientId) => _tokens.Mint(user, clientId, TimeSpan.FromHours(2));

    /// <summary>Connects a client (following redirects) whose messages are timed and checked for completeness.</summary>
    public async Task<ChatClient> ConnectAsync(string user, string clientId = "load", CancellationToken cancellationToken = default)
    {
        var key = user + "/" + clientId;
        var client = await OpenAsync(user, clientId, cancellationToken);
        lock (_clients)
        {
            _receivers.Add(ReceiveAsync(client, key, _stop.Token));
        }

        return client;
    }

    /// <summary>
    /// Connects a client that only stays connected, like an idle app: it answers keep-alive pings and close frames,
    /// follows redirects and reconnects with the client's backoff. No message is expected for it.
    /// </summary>
    public Task<ChatClient> ConnectIdleAsync(string user, CancellationToken cancellationToken = default) => OpenAsync(user, "idle", cancellationToken);

    private async Task<ChatClient> OpenAsync(string user, string clientId, CancellationToken cancellationToken)
    {
        var token = Token(user, clientId);
        var key = user + "/" + clientId;
        var start = Stopwatch.GetTimestamp();
        ChatClient client;
        try
        {
            client = await ChatClient.ConnectAsync(new ChatClientOptions
            {
                Url = Options.Url,
                Seeds = Options.Seeds,
                TokenProvider = _ => ValueTask.FromResult(token),

                // What the app was shown outlives one client: a recipient that reconnects with a new client (as an app
                // restarts) must not be shown again what it was shown before.
                Dedupe = _dedupes.GetOrAdd(key, _ => new SeqDedupe()),
                RequestTimeout = TimeSpan.FromSeconds(30),
                KeepAliveInterval = Options.KeepAlive,
                SendRetryBudget = TimeSpan.FromSeconds(60),
                OnSendSettled = OnSendSettled,
                OnConnectionChanged = change =>
                {
                    _nodeOf[key] = change.NodeId;
                    ConnectionChanged?.Invoke(key, change);
                },
            }, cancellationToken);
        }
        catch (ChatConnectionException)
        {
            Stats.RecordConnect(start, ok: false);
            throw;
        }

        Stats.RecordConnect(start, ok: true);
        lock (_clients)
        {
            _clients.Add(client);
        }

        return client;
    }

    /// <summary>Sends whose outcome was unknown when their retry budget ended and that have not settled since.</summary>
    public long PendingSends => _pendingSends.Count;

    /// <summary>
    /// Sends a timed message ("ticks clientMessageId"); on SUCCESS the recipients must each receive it once. A send
    /// reported as failed must never arrive; one whose outcome is unknown stays pending until the client's outbox settles it.
    /// </summary>
    public async Task SendAsync(ChatClient sender, string chatId, string[] recipients, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var clientMessageId = Guid.NewGuid().ToString("N");
        Stats.RecordSent();
        try
        {
            var result = await sender.SendMessageAsync(chatId, start.ToString(CultureInfo.InvariantCulture) + " " + clientMessageId, clientMessageId, cancellationToken);
            Stats.Completeness.Expect(result.MessageId, recipients);
            Stats.RecordAck(start);
        }
        catch (SendOutcomeUnknownException)
        {
            _pendingSends[clientMessageId] = recipients;
            Stats.RecordFailed();
        }
        catch (Exception ex) when (ex is ChatConnectionException or ChatErrorException)
        {
            Stats.Completeness.Failed(clientMessageId);
            Stats.RecordFailed();
        }
        catch (OperationCanceledException)
        {
            // The run ended with the send in flight: its outcome is unknown, not failed.
            Stats.RecordFailed();
        }
    }

    // A send left pending settled in the background: stored (its recipients must get it) or refused (they must not).
    private void OnSendSettled(SettledSend settled)
    {
        if (_pendingSends.TryRemove(settled.Send.ClientMessageId, out var recipients))
        {
            if (settled.Result is { } result)
            {
                Stats.Completeness.Expect(result.MessageId, recipients);
            }
            else
            {
                Stats.Completeness.Failed(settled.Send.ClientMessageId);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        ChatClient[] clients;
        Task[] receivers;
        lock (_clients)
        {
            clients = [.. _clients];
            receivers = [.. _receivers];
        }

        await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        await Task.WhenAll(receivers);
        if (_routes.IsValueCreated)
        {
            _routes.Value.Dispose();
        }

        _stop.Dispose();
    }

    private async Task ReceiveAsync(ChatClient client, string key, CancellationToken stop)
    {
        try
        {
            await foreach (var message in client.Messages.ReadAllAsync(stop))
            {
                var space = message.Text.IndexOf(' ', StringComparison.Ordinal);
                if (space > 0 && long.TryParse(message.Text.AsSpan(0, space), CultureInfo.InvariantCulture, out var sentTicks))
                {
                    Stats.RecordDelivery(sentTicks);
                    Delivered?.Invoke(key, NodeOf(key), Stopwatch.GetTimestamp() - sentTicks);
                }

                Stats.Completeness.Received(key, message.MessageId, space > 0 ? message.Text[(space + 1)..] : null);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
