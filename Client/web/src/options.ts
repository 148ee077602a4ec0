import { parseNodeUrl } from './connector.js';
import type { MessageDedupe } from './dedupe.js';
import type { SendOutbox } from './outbox.js';

/** Why the client asks for a token. */
export interface TokenRequest {
  /**
   * True when the node closed the previous connection because its token expired (close code 4004, §2.2): a cached
   * token must not be handed out again.
   */
  readonly expired: boolean;
}

/** Options of a `ChatClient`. Durations are in milliseconds. */
export interface ChatClientOptions {
  /**
   * One or more WebSocket URLs (`ws://` or `wss://`, path `/ws`) of any nodes of one fleet, or of load balancers in front
   * of it. A connect round tries the node that welcomed the client last, then these in order (§10, "Seeds").
   */
  readonly seeds: string | URL | readonly (string | URL)[];

  /**
   * Returns a valid token (docs/protocol.md §2.2). Called before every connect attempt, each redirect hop included, so
   * that it can refresh tokens; it goes in the `access_token` query parameter because browsers cannot set headers on
   * a WebSocket. A rejection fails that attempt, which is retried with backoff.
   */
  readonly token: (request: TokenRequest) => Promise<string>;

  /** Mints the `clientMessageId` of each new message: unique per client, 1-128 printable ASCII. Default: 32 random hex. */
  readonly clientMessageIdFactory?: () => string;

  /** Redirects followed for one connect before that target counts as failed. Default 3. */
  readonly maxRedirects?: number;

  /** The first reconnect delay; each failed connect round doubles it, jittered, up to {@link reconnectMaxDelayMs}. Default 100. */
  readonly reconnectMinDelayMs?: number;

  /** The longest wait between connect rounds. Default 10,000. */
  readonly reconnectMaxDelayMs?: number;

  /** How long a request (and a connect, for the node's first frame) waits before its outcome counts as unknown. Default 15,000. */
  readonly requestTimeoutMs?: number;

  /** Acknowledge pushes automatically once the listeners were handed them. Default true. */
  readonly autoAck?: boolean;

  /** How long acknowledgements are gathered before one `ack` carries them all (at most 500). Default 20. */
  readonly ackDelayMs?: number;

  /** How long `sendMessage` retries (same client message id) before it settles or reports the outcome unknown. Default 60,000. */
  readonly sendRetryBudgetMs?: number;

  /** How often sends left pending are retried while connected (they are also retried after every connect). Default 30,000. */
  readonly outboxRetryIntervalMs?: number;

  /** Where pending sends are kept until settled. Default: in memory. */
  readonly outbox?: SendOutbox;

  /** What the application has been handed, to drop repeats. Default: a new in-memory `SeqDedupe` per client. */
  readonly dedupe?: MessageDedupe;
}

/** The options with their defaults applied and checked. */
export interface ResolvedOptions {
  readonly seeds: readonly URL[];
  readonly token: (request: TokenRequest) => Promise<string>;
  readonly clientMessageIdFactory: () => string;
  readonly maxRedirects: number;
  readonly reconnectMinDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly requestTimeoutMs: number;
  readonly autoAck: boolean;
  readonly ackDelayMs: number;
  readonly sendRetryBudgetMs: number;
  readonly outboxRetryIntervalMs: number;
}

/** Applies the defaults; throws `TypeError`/`RangeError` on invalid options. */
export function resolveOptions(options: ChatClientOptions): ResolvedOptions {
  const given = typeof options.seeds === 'string' || options.seeds instanceof URL ? [options.seeds] : options.seeds;
  const seeds: URL[] = [];
  for (const seed of given) {
    const url = parseNodeUrl(seed);
    if (url === undefined) {
      throw new TypeError(`seed '${String(seed)}' is not a ws:// or wss:// URL`);
    }

    if (!seeds.some((known) => known.href === url.href)) {
      seeds.push(url);
    }
  }

  if (seeds.length === 0) {
    throw new TypeError('seeds must name at least one node');
  }

  const resolved: ResolvedOptions = {
    seeds,
    token: options.token,
    clientMessageIdFactory: options.clientMessageIdFactory ?? randomClientMessageId,
    maxRedirects: options.maxRedirects ?? 3,
    reconnectMinDelayMs: options.reconnectMinDelayMs ?? 100,
    reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
    autoAck: options.autoAck ?? true,
    ackDelayMs: options.ackDelayMs ?? 20,
    sendRetryBudgetMs: options.sendRetryBudgetMs ?? 60_000,
    outboxRetryIntervalMs: options.outboxRetryIntervalMs ?? 30_000,
  };
  requireAtLeast('maxRedirects', resolved.maxRedirects, 0);
  requireAtLeast('reconnectMinDelayMs', resolved.reconnectMinDelayMs, 1);
  requireAtLeast('reconnectMaxDelayMs', resolved.reconnectMaxDelayMs, resolved.reconnectMinDelayMs);
  requireAtLeast('requestTimeoutMs', resolved.requestTimeoutMs, 1);
  requireAtLeast('ackDelayMs', resolved.ackDelayMs, 0);
  requireAtLeast('sendRetryBudgetMs', resolved.sendRetryBudgetMs, 0);
  requireAtLeast('outboxRetryIntervalMs', resolved.outboxRetryIntervalMs, 1);
  return resolved;
}

function requireAtLeast(name: string, value: number, minimum: number): void {
  if (!(value >= minimum) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number of at least ${minimum}, got ${value}`);
  }
}

// A random 128-bit id in lowercase hex, like the reference client's.
function randomClientMessageId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}
