/** What a pushed item is: a message of a chat (numbered by `seq`) or a change of a chat (numbered by `chat.version`). */
export type DedupeKind = 'message' | 'chatUpdate';

/**
 * One pushed item: its chat, kind and number in that chat. A message's (chat, seq) names the same message as its
 * `messageId` (§5.1), and a chat update's (chat, version) the same update as its `deliveryId` (§5.2); numbers keep the
 * remembered state small because they only increase per chat.
 */
export interface DedupeKey {
  readonly chatId: string;
  readonly kind: DedupeKind;
  readonly number: number;
}

/**
 * Remembers which items the application has been handed, so that an item pushed again (redelivered, replayed after a
 * reconnect, or dual-written while the user moved between nodes) is dropped. Back it with the application's own
 * storage to keep "shown once" across restarts of the app.
 */
export interface MessageDedupe {
  /** True the first time an item is seen (hand it to the application); false for a repeat. */
  tryAccept(key: DedupeKey): boolean;
}

/** What {@link SeqDedupe} remembers of one chat and kind: every number at or below `floor`, and `above`. */
export interface SeenNumbers {
  readonly chatId: string;
  readonly kind: DedupeKind;
  readonly floor: number;
  readonly above: readonly number[];
}

/**
 * Per chat and kind, a floor and the numbers seen above it (the reference client's `SeqDedupe`). When more than
 * `window` numbers are remembered above the floor, the floor rises to the lowest of them: an item that arrives for the
 * first time behind `window` newer items of its chat counts as seen and is dropped. {@link snapshot} and the
 * `restore` argument let an app persist the state.
 */
export class SeqDedupe implements MessageDedupe {
  private readonly chats = new Map<string, { floor: number; above: number[] }>();

  /**
   * @param window How many numbers above the floor are remembered per chat and kind; at least 1. Default 1,024.
   * @param restore State saved from {@link snapshot}.
   */
  constructor(
    private readonly window = 1024,
    restore: Iterable<SeenNumbers> = [],
  ) {
    if (!Number.isInteger(window) || window < 1) {
      throw new RangeError(`window must be a positive integer, got ${window}`);
    }

    for (const seen of restore) {
      const above = [...new Set(seen.above.filter((n) => n > seen.floor))].sort((a, b) => a - b);
      this.chats.set(keyOf(seen.chatId, seen.kind), { floor: seen.floor, above });
    }
  }

  tryAccept(key: DedupeKey): boolean {
    const id = keyOf(key.chatId, key.kind);
    let chat = this.chats.get(id);
    if (chat === undefined) {
      chat = { floor: 0, above: [] };
      this.chats.set(id, chat);
    }

    if (key.number <= chat.floor) {
      return false;
    }

    const at = lowerBound(chat.above, key.number);
    if (chat.above[at] === key.number) {
      return false;
    }

    chat.above.splice(at, 0, key.number);
    while (chat.above.length > this.window) {
      chat.floor = chat.above.shift() ?? chat.floor;
    }

    return true;
  }

  /** The state to persist, one entry per chat and kind. */
  snapshot(): SeenNumbers[] {
    return [...this.chats].map(([id, chat]) => {
      const [kind, chatId] = splitKey(id);
      return { chatId, kind, floor: chat.floor, above: [...chat.above] };
    });
  }
}

// Chat ids contain no dots (§6.2), so the kind and the chat id can share one map key.
function keyOf(chatId: string, kind: DedupeKind): string {
  return `${kind}.${chatId}`;
}

function splitKey(id: string): [DedupeKind, string] {
  const dot = id.indexOf('.');
  return [id.slice(0, dot) as DedupeKind, id.slice(dot + 1)];
}

// The index of the first element not below `value` in an ascending array.
function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle] ?? 0) < value) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }

  return low;
}
