using ChatNode.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.FileProviders;
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

    /// <summary>
    /// The folder of the web client (<c>Client/web</c>): when set, the client listener serves its browser app
    /// (<c>app/</c>) at <c>/app/</c> and the built library (<c>dist/</c>) at <c>/app/lib/</c>. Empty: no app.
    /// </summary>
    public string WebRoot { get; set; } = "";
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

/// <summary>Serves the browser app of <see cref="DevOptions.WebRoot"/> on the client listener.</summary>
public static class DevWebApp
{
    public static IApplicationBuilder UseDevWebApp(this IApplicationBuilder app, DevOptions options, ListenerPlanes planes)
    {
        if (options.WebRoot.Length == 0)
        {
            return app;
        }

        var root = Path.GetFullPath(options.WebRoot);
        return app.UseWhen(
            context => context.Request.Path.StartsWithSegments("/app") && planes.Of(context.Connection.LocalPort) == Plane.Client,
            branch => branch
                .UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(Path.Combine(root, "dist")), RequestPath = "/app/lib" })
                .UseDefaultFiles(new DefaultFilesOptions { FileProvider = new PhysicalFileProvider(Path.Combine(root, "app")), RequestPath = "/app" })
                .UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(Path.Combine(root, "app")), RequestPath = "/app" }));
    }
}
