import { ChatConnectionError, ChatError } from './errors.js';
import type { Attachment, SendMessageResult } from './protocol.js';
import { backoffDelay, Deferred, sleep, within } from './timing.js';

/**
 * A send not settled yet: kept from before its first attempt until the node answered it (stored, or refused), so that
 * a send whose outcome is unknown is retried with the same `clientMessageId` and never stored twice (§4.2).
 */
export interface PendingSend {
  readonly clientMessageId: string;
  readonly chatId: string;
  readonly text: string;
  readonly attachments: readonly Attachment[];
  readonly createdAtUnixMs: number;
}

/** How a pending send ended: `result` when stored, `error` when refused (then nothing was stored). */
export type SettledSend =
  | { readonly send: PendingSend; readonly result: SendMessageResult; readonly error?: undefined }
  | { readonly send: PendingSend; readonly result?: undefined; readonly error: Error };

/**
 * Where the client keeps its pending sends. The default, {@link MemorySendOutbox}, lives as long as the page or
 * process; an app that keeps them in its own storage (IndexedDB next to its messages) has sends whose outcome was
 * unknown when it stopped retried with their original ids by the next client it starts. Calls for one id never
 * overlap. A failing {@link load} is retried at the next outbox round.
 */
export interface SendOutbox {
  /** Keeps `send` (before its first attempt). */
  save(send: PendingSend): Promise<void>;
  /** Forgets the send with this id (it settled). */
  remove(clientMessageId: string): Promise<void>;
  /** Every send kept, oldest first. */
  load(): Promise<readonly PendingSend[]>;
}

/** The in-memory {@link SendOutbox}. */
export class MemorySendOutbox implements SendOutbox {
  private readonly sends = new Map<string, PendingSend>();

  /** How many sends are kept. */
  get size(): number {
    return this.sends.size;
  }

  save(send: PendingSend): Promise<void> {
    this.sends.set(send.clientMessageId, send);
    return Promise.resolve();
  }

  remove(clientMessageId: string): Promise<void> {
    this.sends.delete(clientMessageId);
    return Promise.resolve();
  }

  load(): Promise<readonly PendingSend[]> {
    return Promise.resolve([...this.sends.values()].sort((a, b) => a.createdAtUnixMs - b.createdAtUnixMs));
  }
}

/**
 * A send not confirmed within the retry budget that may have been stored, and may be delivered. It stays in the outbox
 * and is retried with the same client message id after every connect and every outbox round; the client's
 * `sendSettled` event reports how it ends. Show it as pending; never send it again as a new message.
 */
export class SendOutcomeUnknownError extends Error {
  override readonly name = 'SendOutcomeUnknownError';

  constructor(
    readonly send: PendingSend,
    cause: unknown,
  ) {
    super(`send ${send.clientMessageId} not confirmed and may have been stored; it stays in the outbox and is retried with the same id`, {
      cause,
    });
  }
}

/** What the {@link OutboxSender} needs of the client. */
export interface SendChannel {
  /** Whether a connection is established now. */
  isConnected(): boolean;
  /** Waits at most `ms` for a connection; false when none came or `signal` aborted. */
  waitConnected(ms: number, signal: AbortSignal): Promise<boolean>;
  /** One `sendMessage` request on the current connection. */
  sendOnce(send: PendingSend): Promise<SendMessageResult>;
}

/** Timing of the {@link OutboxSender}, in milliseconds. */
export interface OutboxTiming {
  /** How long {@link OutboxSender.send} keeps retrying before it gives up or reports the outcome unknown. */
  readonly budgetMs: number;
  /** How often kept sends are retried while connected (they are also retried after every connect). */
  readonly retryIntervalMs: number;
}

// Retries of one send wait 50 ms, doubling up to 2 s, with jitter (§10).
const RETRY_MIN_DELAY_MS = 50;
const RETRY_MAX_DELAY_MS = 2_000;

/**
 * Drives sends until they settle (docs/protocol.md §10, "Send retries and the outbox"): keeps each in the outbox before
 * its first attempt, retries it with the same client message id on lost connections, timeouts and retryable errors,
 * and retries what is left pending in the background until the client stops.
 */
export class OutboxSender {
  // Ids being sent now, by the app's send or by the background round; a send is never attempted twice at once.
  private readonly claims = new Set<string>();
  private wakeup = new Deferred<void>();

  constructor(
    private readonly store: SendOutbox,
    private readonly channel: SendChannel,
    private readonly timing: OutboxTiming,
    private readonly stop: AbortSignal,
    private readonly onSettled: (settled: SettledSend) => void,
  ) {}

  /**
   * Keeps `send` in the outbox and tries it until the node answers or the budget runs out. Resolves when stored.
   * Rejects with a {@link ChatError} (refused) or a {@link ChatConnectionError} (never applied) after removing it from
   * the outbox: nothing was stored. Rejects with {@link SendOutcomeUnknownError} when it may have been stored: it stays.
   * When `signal` aborts, rejects with its reason; the send stays in the outbox only if an attempt may have applied it.
   */
  async send(send: PendingSend, signal?: AbortSignal): Promise<SendMessageResult> {
    if (!this.claim(send.clientMessageId)) {
      throw new Error(`a send with client message id ${send.clientMessageId} is in progress`);
    }

    try {
      await this.store.save(send);
    } catch (error) {
      this.claims.delete(send.clientMessageId);
      throw error;
    }

    return this.sendClaimed(send, signal);
  }

  /** Retries the kept sends now (a connection was established). */
  wake(): void {
    this.wakeup.resolve();
  }

  /** Retries kept sends after each {@link wake} and every retry interval while connected, until `stop` aborts. */
  async run(): Promise<void> {
    while (!this.stop.aborted) {
      const wakeup = this.wakeup;
      await within(wakeup.promise, this.timing.retryIntervalMs, this.stop);
      if (wakeup.settled) {
        this.wakeup = new Deferred();
      }

      if (this.stop.aborted || !this.channel.isConnected()) {
        continue;
      }

      let sends: readonly PendingSend[];
      try {
        sends = await this.store.load();
      } catch {
        continue;
      }

      for (const send of sends) {
        if (this.stop.aborted) {
          return;
        }

        if (this.claim(send.clientMessageId)) {
          await this.settle(send);
        }
      }
    }
  }

  private claim(clientMessageId: string): boolean {
    if (this.claims.has(clientMessageId)) {
      return false;
    }

    this.claims.add(clientMessageId);
    return true;
  }

  private async settle(send: PendingSend): Promise<void> {
    try {
      this.onSettled({ send, result: await this.sendClaimed(send) });
    } catch (error) {
      if (error instanceof SendOutcomeUnknownError || this.stop.aborted) {
        return;
      }

      this.onSettled({ send, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  // Tries a claimed send until it settles or the budget ends; releases the claim.
  private async sendClaimed(send: PendingSend, signal?: AbortSignal): Promise<SendMessageResult> {
    const id = send.clientMessageId;
    const cancel = signal === undefined ? this.stop : AbortSignal.any([this.stop, signal]);
    const deadline = Date.now() + this.timing.budgetMs;
    let maybeStored = false;
    let last: unknown;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          if (!(await this.channel.waitConnected(deadline - Date.now(), cancel))) {
            last ??= new ChatConnectionError('not connected');
            break;
          }

          const result = await this.channel.sendOnce(send);
          await this.store.remove(id);
          return result;
        } catch (error) {
          if (error instanceof ChatError) {
            maybeStored ||= error.outcomeUnknown;
            if (!error.retryable) {
              // A refusal is definite even after an unknown attempt: had that attempt stored the message, the node
              // would have answered this one from it.
              await this.store.remove(id);
              throw error;
            }
          } else if (error instanceof ChatConnectionError) {
            maybeStored ||= error.requestSent;
          } else {
            if (!maybeStored) {
              await this.store.remove(id);
            }

            throw error;
          }

          last = error;
        }

        const wait = backoffDelay(attempt, RETRY_MIN_DELAY_MS, RETRY_MAX_DELAY_MS);
        if (Date.now() + wait >= deadline || !(await sleep(wait, cancel))) {
          break;
        }
      }

      if (signal?.aborted && !this.stop.aborted) {
        if (!maybeStored) {
          await this.store.remove(id);
        }

        throw signal.reason;
      }

      if (maybeStored) {
        throw new SendOutcomeUnknownError(send, last);
      }

      await this.store.remove(id);
      throw new ChatConnectionError(`send ${id} not confirmed within ${this.timing.budgetMs} ms, and never applied`, { cause: last });
    } finally {
      this.claims.delete(id);
    }
  }
}
