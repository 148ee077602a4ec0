using ChatNode.Auth;
using ChatNode.Fleet;
using ChatNode.Peering;
using ChatNode.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace ChatNode.Endpoints;

/// <summary>
/// The node's routes: <c>/ws</c> (clients), the peer gRPC service, <c>/healthz</c>, <c>/readyz</c>, <c>/v1/route</c> and
/// <c>/metrics</c>. docs/protocol.md and docs/operations.md describe each.
/// </summary>
public static class HttpEndpoints
{
    public static IEndpointRouteBuilder MapChatNodeEndpoints(this IEndpointRouteBuilder app)
    {
        app.Map("/ws", (HttpContext context, WebSocketEndpoint endpoint) => endpoint.HandleAsync(context));
        app.MapGrpcService<PeerService>();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/v1/route", Route);
        app.MapGet("/readyz", ReadyAsync);
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    private static IResult Route(string? user, Ownership ownership)
    {
        if (!Ids.IsValidUserId(user))
        {
            return Results.Json(new RouteError("user must be a valid user id"), RouteContext.Default.RouteError, statusCode: StatusCodes.Status400BadRequest);
        }

        var owner = ownership.OwnerOf(user) ?? ownership.Self;
        return owner is null
            ? Results.Json(new RouteError("no node owns users yet"), RouteContext.Default.RouteError, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new RouteAnswer(user, owner.NodeId, owner.WebSocketUrl, ownership.Ring.Epoch), RouteContext.Default.RouteAnswer);
    }

    private static async Task<IResult> ReadyAsync(IStoreHealth store, IHostApplicationLifetime lifetime, Ownership ownership, CancellationToken ct)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return Results.Text("stopping\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        if (ownership.Self is null)
        {
            return Results.Text("not registered in the fleet yet\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        var (ready, reason) = await store.CheckAsync(ct).ConfigureAwait(false);
        return Results.Text(reason + "\n", statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}

internal sealed record RouteAnswer(string User, string NodeId, string Url, long Epoch);

internal sealed record RouteError(string Error);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RouteAnswer))]
[System.Text.Json.Serialization.JsonSerializable(typeof(RouteError))]
internal sealed partial class RouteContext : System.Text.Json.Serialization.JsonSerializerContext;
