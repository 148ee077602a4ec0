namespace ChatNode.Lifecycle;

/// <summary>
/// The ordered stages of a node's start; stop runs them in reverse. This enum is the one place the order is written:
/// each component names the stage it belongs to (<see cref="ILifecycleParticipant.Stage"/>) and the host runs every
/// participant of a stage before the next stage begins (<c>Hosting/StagedLifecycle</c>). Kestrel starts accepting
/// connections between <see cref="Background"/> and <see cref="Serve"/> and stops after <see cref="Serve"/> stopped.
/// </summary>
public enum LifecycleStage
{
    /// <summary>The store connects and answers (a node without a store never looks ready).</summary>
    Store = 100,

    /// <summary>The fleet membership is read, so the first connections are routed by a real ring.</summary>
    Membership = 200,

    /// <summary>Peer streams to the other members open and follow the ring.</summary>
    Peering = 300,

    /// <summary>Background loops: redelivery and resync sweeps, the media sweeper.</summary>
    Background = 400,

    /// <summary>
    /// After Kestrel listens: the node registers in the fleet with its bound URLs and takes users. On stop, the first
    /// stage to run: the node leaves the ring and drains its connections while Kestrel still serves them.
    /// </summary>
    Serve = 500,
}

/// <summary>A component that starts and stops with the node at one <see cref="LifecycleStage"/>.</summary>
public interface ILifecycleParticipant
{
    LifecycleStage Stage { get; }

    /// <summary>Starts the component; background work it starts is owned by it until <see cref="StopAsync"/>.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Stops the component and awaits every task it started. Called once, also when start failed later on.</summary>
    Task StopAsync(CancellationToken cancellationToken);
}
