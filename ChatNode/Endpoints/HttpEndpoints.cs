using ChatNode.Auth;
using ChatNode.Fleet;
using ChatNode.Peering;
using ChatNode.Registry.Ring;
using ChatNode.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace ChatNode.Endpoints;

/// <summary>
/// The node's routes, each on its plane (<see cref="Plane"/>): <c>/ws</c> and <c>/v1/route</c> for clients; the peer
/// gRPC service and <c>/v1/admin/drain</c> on the peer plane; <c>/metrics</c> on the admin plane; <c>/healthz</c> and
/// <c>/readyz</c> on the client and admin planes; <c>/v1/dev/token</c> (clients, only with <c>Dev:Tokens</c>).
/// docs/protocol.md and docs/operations.md describe each.
/// </summary>
public static class HttpEndpoints
{
    public static IEndpointRouteBuilder MapChatNodeEndpoints(this IEndpointRouteBuilder app)
    {
        app.Map("/ws", (HttpContext context, WebSocketEndpoint endpoint) => endpoint.HandleAsync(context)).On(Plane.Client);
        app.MapGet("/v1/route", Route).On(Plane.Client);
        app.MapGet("/healthz", () => Results.Text("ok\n")).On(Plane.Client | Plane.Admin);
        app.MapGet("/readyz", ReadyAsync).On(Plane.Client | Plane.Admin);
        app.MapGrpcService<PeerService>().On(Plane.Peer);
        app.MapPost("/v1/admin/drain", Drain).On(Plane.Peer);
        app.MapPrometheusScrapingEndpoint("/metrics").On(Plane.Admin);
        app.MapPost("/v1/dev/token", DevTokens.MintAsync).On(Plane.Client);
        return app;
    }

    // The node a client of the user should connect to: its target owner (where it belongs once transitions finish).
    private static IResult Route(string? user, Ownership ownership)
    {
        if (!Ids.IsValidUserId(user))
        {
            return Results.Json(new RouteError("user must be a valid user id"), RouteContext.Default.RouteError, statusCode: StatusCodes.Status400BadRequest);
        }

        var view = ownership.View;
        var owner = view.TargetOwner(user);
        return owner is null
            ? Results.Json(new RouteError("no node owns users yet"), RouteContext.Default.RouteError, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new RouteAnswer(user, owner.NodeId, owner.WebSocketUrl, view.Epoch), RouteContext.Default.RouteAnswer);
    }

    private static async Task<IResult> ReadyAsync(IStoreHealth store, IHostApplicationLifetime lifetime, NodeLifecycle node, CancellationToken ct)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested || node.State is NodeState.Draining or NodeLifecycle.LeftState)
        {
            return Results.Text("draining\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        if (node.State is null)
        {
            return Results.Text("not registered in the fleet yet\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        var (ready, reason) = await store.CheckAsync(ct).ConfigureAwait(false);
        return Results.Text(reason + "\n", statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    // Starts this node's drain (chatnode drain NODE): signed with the fleet secret for this node, within two minutes.
    private static IResult Drain(HttpRequest request, int? rate, NodeLifecycle node, Ownership ownership, AdminAuth auth)
    {
        if (!auth.Verify("drain", ownership.NodeId, request.Headers[AdminAuth.TimeHeader], request.Headers[AdminAuth.SignatureHeader]))
        {
            return Results.Json(new RouteError("bad or expired admin signature for this node"), RouteContext.Default.RouteError, statusCode: StatusCodes.Status401Unauthorized);
        }

        if (rate is < 0)
        {
            return Results.Json(new RouteError("rate must be a positive number of connections per second"), RouteContext.Default.RouteError, statusCode: StatusCodes.Status400BadRequest);
        }

        var accepted = node.RequestDrain(rate ?? 0);
        var answer = new DrainAnswer(ownership.NodeId, (node.State ?? NodeState.Joining).ToString(), accepted);
        return Results.Json(answer, RouteContext.Default.DrainAnswer, statusCode: accepted ? StatusCodes.Status202Accepted : StatusCodes.Status409Conflict);
    }
}

internal sealed record RouteAnswer(string User, string NodeId, string Url, long Epoch);

internal sealed record RouteError(string Error);

internal sealed record DrainAnswer(string NodeId, string State, bool Started);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RouteAnswer))]
[System.Text.Json.Serialization.JsonSerializable(typeof(RouteError))]
[System.Text.Json.Serialization.JsonSerializable(typeof(DrainAnswer))]
[System.Text.Json.Serialization.JsonSerializable(typeof(DevTokenRequest))]
[System.Text.Json.Serialization.JsonSerializable(typeof(DevTokenAnswer))]
internal sealed partial class RouteContext : System.Text.Json.Serialization.JsonSerializerContext;
