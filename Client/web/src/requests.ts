import type { Connection } from './connection.js';
import { ChatConnectionError, ChatError } from './errors.js';
import { encodeRequest, requestIdOf, RESULT_FIELDS, type CommandName, type WireCommands, type WireResults, type WireServerFrame } from './protocol.js';

// A request waiting for its result, on the connection it was sent on.
interface PendingRequest {
  readonly connection: Connection;
  settle(frame: WireServerFrame): void;
  fail(error: Error): void;
}

const utf8 = new TextEncoder();

/**
 * Numbers requests from 1, matches results to them by request id, and times them out (docs/protocol.md §3.1, §10
 * "Requests"). A request whose connection ends, or whose timeout passes, fails with `requestSent`: its outcome is
 * unknown.
 */
export class RequestTracker {
  private readonly pending = new Map<number, PendingRequest>();
  private nextRequestId = 0;

  constructor(private readonly timeoutMs: number) {}

  /**
   * Sends one request on `connection` and resolves with its result body. Rejects with {@link ChatError} on an `error`
   * answer; with {@link ChatConnectionError} when the connection is not open (`requestSent` false), or when it ended
   * or the timeout passed before the answer (`requestSent` true); and with `RangeError` when the frame is larger than
   * `maxFrameBytes` (0: unknown), which would make the node close the connection with 4103.
   */
  send<C extends CommandName>(connection: Connection, maxFrameBytes: number, command: C, body: WireCommands[C]): Promise<WireResults[C]> {
    const requestId = ++this.nextRequestId;
    const text = encodeRequest(requestId, command, body);
    // A UTF-16 code unit takes at most 3 bytes in UTF-8: only a long frame needs encoding to be measured.
    if (maxFrameBytes > 0 && text.length * 3 > maxFrameBytes && utf8.encode(text).byteLength > maxFrameBytes) {
      return Promise.reject(new RangeError(`the ${command} frame is larger than the node accepts (welcome.maxFrameBytes ${maxFrameBytes})`));
    }

    return new Promise<WireResults[C]>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.pending.delete(requestId);
      };
      const timer = setTimeout(() => {
        done();
        reject(new ChatConnectionError(`no result for ${command} within ${this.timeoutMs} ms`, { requestSent: true }));
      }, this.timeoutMs);
      this.pending.set(requestId, {
        connection,
        settle: (frame) => {
          done();
          if (frame.error !== undefined) {
            reject(ChatError.fromWire(frame.error));
          } else {
            resolve((frame[RESULT_FIELDS[command]] ?? {}) as WireResults[C]);
          }
        },
        fail: (error) => {
          done();
          reject(error);
        },
      });
      try {
        connection.send(text);
      } catch (error) {
        done();
        reject(error);
      }
    });
  }

  /**
   * Sends one request that nothing waits on (a quiet `ack`, §4.5) under a request id of its own, so that an error
   * answer matches no pending request and is dropped. Throws when the connection is not open.
   */
  sendUnanswered<C extends CommandName>(connection: Connection, command: C, body: WireCommands[C]): void {
    connection.send(encodeRequest(++this.nextRequestId, command, body));
  }

  /** Settles the request `frame` answers; false when it is a push (request id 0). Late answers are dropped. */
  settle(frame: WireServerFrame): boolean {
    const requestId = requestIdOf(frame);
    if (requestId === 0) {
      return false;
    }

    this.pending.get(requestId)?.settle(frame);
    return true;
  }

  /** Fails the requests sent on `connection` (every request when undefined) with the error `reason` makes. */
  failAll(connection: Connection | undefined, reason: () => Error): void {
    for (const request of this.pending.values()) {
      if (connection === undefined || request.connection === connection) {
        request.fail(reason());
      }
    }
  }
}
