import { ChatConnectionError } from './errors.js';
import { parseServerFrame, SUBPROTOCOL, type WireServerFrame } from './protocol.js';
import { Deferred, within } from './timing.js';

/** How a connection ended: the WebSocket close code (1006 when it dropped without a close frame) and reason. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

// How long a close handshake may take before the connection counts as ended anyway.
const CLOSE_TIMEOUT_MS = 2_000;

// Code reported for a connection that ended without a close frame, or that the client gave up on (RFC 6455 §7.1.5).
const ABNORMAL_CLOSURE = 1006;

/**
 * One WebSocket to one node under `chat.v1+json`. Frames are parsed as they arrive and queued until a handler is set
 * with {@link onFrame}, so none is lost between the first frame and the caller taking over. {@link closed} resolves
 * once, when the socket has closed.
 */
export class Connection {
  private readonly ended = new Deferred<CloseInfo>();
  private readonly queued: WireServerFrame[] = [];
  private handler: ((frame: WireServerFrame) => void) | undefined;
  private readonly firstFrame = new Deferred<WireServerFrame | undefined>();

  private constructor(
    /** The URL connected to, without the token. */
    readonly url: URL,
    private readonly socket: WebSocket,
  ) {
    socket.addEventListener('message', (event) => this.receive(event));
    socket.addEventListener('close', (event) => this.end({ code: event.code, reason: event.reason }));
  }

  /** Resolves when the connection has ended, whoever ended it. Never rejects. */
  get closed(): Promise<CloseInfo> {
    return this.ended.promise;
  }

  /** Whether frames can be sent now. */
  get isOpen(): boolean {
    return !this.ended.settled && this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Opens a WebSocket to `url` with `token` in the query string and waits for the node's first frame (`welcome`,
   * `redirect` or a connection-level `error`). Rejects with {@link ChatConnectionError} when the upgrade is refused
   * (a browser does not reveal the HTTP status), the connection closes first, or no frame arrives within `timeoutMs`;
   * rejects with `signal.reason` when aborted.
   */
  static async open(
    url: URL,
    query: Readonly<Record<string, string>>,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<{ connection: Connection; first: WireServerFrame }> {
    signal.throwIfAborted();
    const target = new URL(url);
    for (const [name, value] of Object.entries(query)) {
      target.searchParams.set(name, value);
    }

    const connection = new Connection(url, new WebSocket(target, SUBPROTOCOL));
    const outcome = await within(connection.firstFrame.promise, timeoutMs, signal);
    if (outcome.kind === 'value' && outcome.value !== undefined) {
      return { connection, first: outcome.value };
    }

    connection.close(1000, 'connect abandoned');
    if (outcome.kind === 'aborted') {
      throw signal.reason;
    }

    if (outcome.kind === 'timeout') {
      throw new ChatConnectionError(`no first frame from ${url} within ${timeoutMs} ms`);
    }

    const close = await connection.closed;
    throw new ChatConnectionError(
      close.code === ABNORMAL_CLOSURE
        ? `could not connect to ${url} (node unreachable, or the upgrade was refused: bad token, rate limit, store down)`
        : `${url} closed the connection at once (${close.code}: ${close.reason})`,
      { closeCode: close.code },
    );
  }

  /** Hands every frame received so far, and every later one, to `handler`. */
  onFrame(handler: (frame: WireServerFrame) => void): void {
    this.handler = handler;
    for (const frame of this.queued.splice(0)) {
      handler(frame);
    }
  }

  /** Sends one text frame. Throws {@link ChatConnectionError} (nothing sent) when the connection is not open. */
  send(text: string): void {
    if (!this.isOpen) {
      throw new ChatConnectionError(`the connection to ${this.url} is not open`);
    }

    this.socket.send(text);
  }

  /**
   * Starts the close handshake. {@link closed} resolves when it completes, or after 2 s with code 1006 when the node
   * does not answer.
   */
  close(code: number, reason: string): void {
    if (this.ended.settled) {
      return;
    }

    this.socket.close(code, reason);
    void within(this.ended.promise, CLOSE_TIMEOUT_MS).then((outcome) => {
      if (outcome.kind === 'timeout') {
        this.end({ code: ABNORMAL_CLOSURE, reason: 'close handshake timed out' });
      }
    });
  }

  private receive(event: MessageEvent): void {
    if (this.ended.settled) {
      return;
    }

    const frame = typeof event.data === 'string' ? parseServerFrame(event.data) : undefined;
    if (frame === undefined) {
      // chat.v1+json frames are JSON objects in text messages; anything else means the stream cannot be trusted.
      this.end({ code: ABNORMAL_CLOSURE, reason: 'undecodable frame from the node' });
      this.socket.close(1000, 'undecodable frame');
      return;
    }

    if (!this.firstFrame.settled) {
      this.firstFrame.resolve(frame);
    } else if (this.handler === undefined) {
      this.queued.push(frame);
    } else {
      this.handler(frame);
    }
  }

  private end(close: CloseInfo): void {
    if (this.ended.settled) {
      return;
    }

    this.firstFrame.resolve(undefined);
    this.ended.resolve(close);
  }
}
