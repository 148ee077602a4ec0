using ChatNode.Auth;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ChatNode.Endpoints;

/// <summary>
/// Development settings (configuration section <c>Dev</c>). Off by default; <c>make run</c> turns them on.
/// </summary>
public sealed class DevOptions
{
    public const string Section = "Dev";

    /// <summary>
    /// Serve <c>POST /v1/dev/token</c>: a token for any user and client, to anyone who asks. For a local fleet and the
    /// browser app only: a node refuses to start with it unless <c>Node:Listen</c> is a loopback address.
    /// </summary>
    public bool Tokens { get; set; }
}

/// <summary><c>POST /v1/dev/token</c> with <c>{"user":"alice","client":"web"}</c>: a token, as <c>chatnode token</c> mints it.</summary>
internal static class DevTokens
{
    public static async Task<IResult> MintAsync(HttpRequest request, IOptions<DevOptions> dev, IOptions<AuthOptions> auth, TokenService tokens, TimeProvider time)
    {
        if (!dev.Value.Tokens)
        {
            return Results.NotFound();
        }

        DevTokenRequest? body;
        try
        {
            body = await request.ReadFromJsonAsync(RouteContext.Default.DevTokenRequest, request.HttpContext.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException)
        {
            // Not JSON, or not declared as JSON (Content-Type): a bad request like any other.
            body = null;
        }

        if (body is null || !Ids.IsValidUserId(body.User) || !Ids.IsValidClientId(body.Client))
        {
            return Results.Json(new RouteError("send {\"user\":U,\"client\":C} with a valid user id and client id"), RouteContext.Default.RouteError, statusCode: StatusCodes.Status400BadRequest);
        }

        var ttl = auth.Value.DefaultTokenTtl;
        var answer = new DevTokenAnswer(tokens.Mint(body.User, body.Client, ttl), (time.GetUtcNow() + ttl).ToUnixTimeMilliseconds());
        return Results.Json(answer, RouteContext.Default.DevTokenAnswer);
    }
}

internal sealed record DevTokenRequest(string? User, string? Client);

internal sealed record DevTokenAnswer(string Token, long ExpiresAtUnixMs);
