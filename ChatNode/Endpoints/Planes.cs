using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;

namespace ChatNode.Endpoints;

/// <summary>
/// The node's listeners. Each route answers on the planes it is marked for (<see cref="OnPlane"/>) and is not found
/// on the others: clients cannot reach the peer service or the metrics, peers and scrapers not the WebSocket.
/// </summary>
[Flags]
public enum Plane
{
    /// <summary><c>Node:Listen</c>: clients (WebSocket, route lookup, probes). The only one to expose to the internet.</summary>
    Client = 1,

    /// <summary><c>Node:PeerListen</c>: the other nodes (peer streams) and the operator (admin requests), HTTP/2.</summary>
    Peer = 2,

    /// <summary><c>Node:AdminListen</c>: metrics and probes, for the monitoring system.</summary>
    Admin = 4,
}

/// <summary>Route metadata: the planes a route answers on.</summary>
public sealed class OnPlane(Plane planes)
{
    public Plane Planes { get; } = planes;
}

/// <summary>Which plane a connection came in on, by the local port it reached (the listeners' ports are distinct).</summary>
public sealed class ListenerPlanes(IServer server)
{
    private Dictionary<int, Plane>? _byPort;

    /// <summary>The plane of a connection to <paramref name="localPort"/>; none for a port the node does not know.</summary>
    public Plane Of(int localPort)
    {
        // Kestrel lists its bound addresses in the order the listeners were configured: client, peer, admin.
        // Read once requests arrive, that is once Kestrel has bound (port 0 resolved).
        var byPort = _byPort;
        if (byPort is null)
        {
            byPort = (server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
                .Select((address, index) => (Port: new Uri(address.Replace("*", "localhost", StringComparison.Ordinal)).Port, Plane: (Plane)(1 << Math.Min(index, 2))))
                .DistinctBy(l => l.Port)
                .ToDictionary(l => l.Port, l => l.Plane);
            if (byPort.Count > 0)
            {
                _byPort = byPort;
            }
        }

        return byPort.GetValueOrDefault(localPort);
    }
}

public static class PlaneExtensions
{
    /// <summary>Marks a route as answering on <paramref name="planes"/> only.</summary>
    public static TBuilder On<TBuilder>(this TBuilder builder, Plane planes)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new OnPlane(planes));

    /// <summary>
    /// Answers 404 to a request for a route on a plane it is not marked for (unmarked routes answer nowhere), before the
    /// route runs. Goes after routing, before the endpoints.
    /// </summary>
    public static IApplicationBuilder UsePlanes(this IApplicationBuilder app, ListenerPlanes planes) =>
        app.Use((context, next) =>
        {
            if (context.GetEndpoint() is { } endpoint
                && ((endpoint.Metadata.GetMetadata<OnPlane>()?.Planes ?? 0) & planes.Of(context.Connection.LocalPort)) == 0)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(context);
        });
}
