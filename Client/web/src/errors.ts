import type { ErrorCode, WireError } from './protocol.js';

// Codes whose request a client may send again unchanged (docs/protocol.md §8), as the reference client retries them.
const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED', 'STORE_FULL']);

/** The node answered a request, or the connection, with an `error` frame (§8). Branch on `code`, never on `message`. */
export class ChatError extends Error {
  override readonly name = 'ChatError';

  /**
   * @param code The error code name (§8).
   * @param message The node's English text, for humans.
   * @param outcomeUnknown The node may have applied the request before it failed: retry it unchanged, never as a new one.
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly outcomeUnknown = false,
  ) {
    super(`${code}: ${message}`);
  }

  /** Whether sending the same request again may succeed: a transient code, or an outcome the node could not tell. */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code) || this.outcomeUnknown;
  }

  /** The error a wire `error` body stands for. */
  static fromWire(error: WireError): ChatError {
    return new ChatError(error.code ?? 'ERROR_CODE_UNSPECIFIED', error.message ?? '', error.outcomeUnknown ?? false);
  }
}

/** What a {@link ChatConnectionError} knows beyond its message. */
export interface ChatConnectionErrorOptions {
  /** The request had left the client, so the node may have applied it. Default false. */
  readonly requestSent?: boolean;
  /** The WebSocket close code that ended the connection, when one did. */
  readonly closeCode?: number;
  readonly cause?: unknown;
}

/**
 * No answer from a node: the client was not connected, a connect failed, or the connection ended (or the request timed
 * out) before the result arrived. With {@link requestSent} the outcome of the request is unknown.
 */
export class ChatConnectionError extends Error {
  override readonly name = 'ChatConnectionError';
  readonly requestSent: boolean;
  readonly closeCode: number | undefined;

  constructor(message: string, options: ChatConnectionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.requestSent = options.requestSent ?? false;
    this.closeCode = options.closeCode;
  }

  /** The node closed with a terminal code (4100-4199, §7): reconnecting unchanged fails again. */
  get terminal(): boolean {
    return isTerminalCloseCode(this.closeCode);
  }
}

/** The media store refused an attachment upload or download (an HTTP status other than 2xx). */
export class MediaStoreError extends Error {
  override readonly name = 'MediaStoreError';

  constructor(
    readonly operation: 'upload' | 'download',
    readonly status: number,
    attachmentId: string,
  ) {
    super(`media store answered ${status} to the ${operation} of attachment ${attachmentId}`);
  }
}

/** Downloaded attachment bytes whose SHA-256 differs from the attachment's: discard them (§4.10). */
export class AttachmentIntegrityError extends Error {
  override readonly name = 'AttachmentIntegrityError';

  constructor(
    readonly attachmentId: string,
    readonly expectedSha256: string,
    readonly actualSha256: string,
  ) {
    super(`attachment ${attachmentId} does not match its SHA-256 (expected ${expectedSha256}, got ${actualSha256})`);
  }
}

/** Close codes 4100-4199 are terminal: the client must not reconnect automatically (§7). */
export function isTerminalCloseCode(code: number | undefined): boolean {
  return code !== undefined && code >= 4100 && code < 4200;
}
