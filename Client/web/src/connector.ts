import { Connection } from './connection.js';
import { ChatConnectionError, ChatError } from './errors.js';
import { decodeRedirect, decodeWelcome, EPOCH_PARAMETER, TOKEN_PARAMETER, type Welcome } from './protocol.js';
import { within } from './timing.js';

/** A change of the client's connection, for an app's connection indicator. URLs never carry the token. */
export type ConnectionEvent =
  /** A WebSocket to `url` is being opened (a seed, the remembered owner, or a redirect target). */
  | { readonly state: 'connecting'; readonly url: string }
  /** The node at `from` sent the client to `to`, the owner of its user, which the client follows at once. */
  | { readonly state: 'redirected'; readonly from: string; readonly to: string; readonly nodeId: string; readonly epoch: number }
  /** A node welcomed the client, after following `redirects` redirects. */
  | { readonly state: 'connected'; readonly url: string; readonly nodeId: string; readonly redirects: number; readonly welcome: Welcome }
  /** The client waits `delayMs` before connect round number `attempt` (from 1) after losing its connection. */
  | { readonly state: 'reconnecting'; readonly attempt: number; readonly delayMs: number }
  /** The connection ended with `code`; `willReconnect` is false when the client stops (terminal code, or closed). */
  | { readonly state: 'closed'; readonly code: number; readonly reason: string; readonly willReconnect: boolean };

/** A connection a node accepted, with its welcome. */
export interface Established {
  readonly connection: Connection;
  readonly welcome: Welcome;
  readonly redirects: number;
}

/** What a {@link Connector} needs. */
export interface ConnectorSettings {
  /** Seed URLs, tried in order after the remembered owner. */
  readonly seeds: readonly URL[];
  /** Redirects followed per connect before the target counts as failed. */
  readonly maxRedirects: number;
  /** How long to wait for a node's first frame. */
  readonly timeoutMs: number;
  /** Obtains the token for the next connect attempt. */
  readonly token: () => Promise<string>;
  readonly report: (event: ConnectionEvent) => void;
}

/** Parses a node's WebSocket URL; undefined unless it is an absolute `ws:` or `wss:` URL. */
export function parseNodeUrl(value: string | URL): URL | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }

  return url.protocol === 'ws:' || url.protocol === 'wss:' ? url : undefined;
}

/**
 * Finds the node that owns the client's user (docs/protocol.md §5.4, §10 "Seeds" and "Redirects"): tries the node that
 * welcomed the client last, then every seed in order, each following redirects with their ring epoch, until a node
 * sends `welcome`.
 */
export class Connector {
  // The node that welcomed the client last: tried first on every connect round.
  private route: URL | undefined;

  constructor(private readonly settings: ConnectorSettings) {}

  /** The URL of the node that welcomed the client last. */
  get lastUrl(): URL | undefined {
    return this.route;
  }

  /**
   * One connect round. Rejects with the last {@link ChatConnectionError} when no candidate welcomed the client, at
   * once with a terminal one (a node refused the client with a 4100-4199 code), and with `signal.reason` when aborted.
   */
  async connectRound(signal: AbortSignal): Promise<Established> {
    const route = this.route;
    const candidates = route === undefined ? this.settings.seeds : [route, ...this.settings.seeds.filter((seed) => seed.href !== route.href)];
    let last: unknown = new ChatConnectionError('no seed URL to connect to');
    for (const candidate of candidates) {
      try {
        return await this.connectVia(candidate, undefined, signal);
      } catch (error) {
        if (!(error instanceof ChatConnectionError) || error.terminal) {
          throw error;
        }

        last = error;
      }
    }

    throw last;
  }

  /**
   * Connects at `url` (passing `epoch` as `ring_epoch` when following a redirect), following at most `maxRedirects`
   * redirects. Rejects like {@link connectRound}.
   */
  async connectVia(url: URL, epoch: number | undefined, signal: AbortSignal): Promise<Established> {
    let target = url;
    let ringEpoch = epoch;
    for (let redirects = 0; ; redirects++) {
      this.settings.report({ state: 'connecting', url: target.href });
      const query: Record<string, string> = { [TOKEN_PARAMETER]: await this.token() };
      if (ringEpoch !== undefined) {
        query[EPOCH_PARAMETER] = String(ringEpoch);
      }

      const { connection, first } = await Connection.open(target, query, this.settings.timeoutMs, signal);
      if (first.welcome !== undefined) {
        this.route = target;
        return { connection, welcome: decodeWelcome(first.welcome), redirects };
      }

      if (first.redirect === undefined) {
        // A connection-level error (TOO_MANY_CLIENTS then 4104, FORBIDDEN then 4101) is followed by the close.
        const close = await within(connection.closed, this.settings.timeoutMs);
        connection.close(1000, 'no welcome');
        const cause = first.error === undefined ? undefined : ChatError.fromWire(first.error);
        throw new ChatConnectionError(cause === undefined ? `${target} sent no welcome` : `${target} refused the client: ${cause.message}`, {
          closeCode: close.kind === 'value' ? close.value.code : undefined,
          cause,
        });
      }

      connection.close(1000, 'following redirect');
      const redirect = decodeRedirect(first.redirect);
      const next = parseNodeUrl(redirect.url);
      if (next === undefined) {
        throw new ChatConnectionError(`${target} redirected to an invalid URL: '${redirect.url}'`);
      }

      if (redirects >= this.settings.maxRedirects) {
        throw new ChatConnectionError(`more than ${this.settings.maxRedirects} redirects (last from ${target} to ${next})`);
      }

      this.settings.report({ state: 'redirected', from: target.href, to: next.href, nodeId: redirect.nodeId, epoch: redirect.epoch });
      target = next;
      ringEpoch = redirect.epoch;
    }
  }

  private async token(): Promise<string> {
    try {
      return await this.settings.token();
    } catch (error) {
      throw new ChatConnectionError('the token provider failed', { cause: error });
    }
  }
}
