// Shared by the tests in ../test: the fleet under test (from the environment), tokens, users picked by owner, and
// clients that record what they are handed. Kept outside test/ because `node --test test/` runs every module there.
import { createHmac, randomBytes } from 'node:crypto';
import { ChatClient } from '../dist/index.js';

/** The fleet under test. Importing this module throws when the environment does not name one: tests fail, never skip. */
export const fleet = readFleet();

const runId = randomBytes(4).toString('hex');
let userCounter = 0;

function readFleet() {
  const seed = process.env.CHATNODE_WEB_TEST_URL;
  if (!seed) {
    throw new Error(
      'CHATNODE_WEB_TEST_URL is not set: these tests need a running chatnode fleet of 2+ nodes. Set it to the WebSocket URL ' +
        'of any node (e.g. ws://127.0.0.1:8180/ws) and CHATNODE_SECRET to the fleet token secret; see Client/web/README.md.',
    );
  }

  const secret = process.env.CHATNODE_SECRET;
  if (!secret) {
    throw new Error('CHATNODE_SECRET is not set: the tests mint tokens with the fleet token secret (docs/protocol.md §2.2).');
  }

  const http = new URL(seed);
  http.protocol = http.protocol === 'wss:' ? 'https:' : 'http:';
  return { seed: new URL(seed).href, secret, httpBase: http.origin };
}

/** A token as docs/protocol.md §2.2 specifies it: `v1.<payload>.<HMAC-SHA256 of "v1.<payload>">`, base64url. */
export function mintToken(userId, clientId, { ttlSeconds = 3600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(JSON.stringify({ u: userId, c: clientId, exp: now + ttlSeconds, iat: now })).toString('base64url');
  const signature = createHmac('sha256', Buffer.from(fleet.secret, 'utf8')).update(`v1.${payload}`, 'ascii').digest('base64url');
  return `v1.${payload}.${signature}`;
}

/** A user id no earlier run used. */
export function newUserId(label) {
  userCounter += 1;
  return `${label}-${runId}-${userCounter}`;
}

/** The fleet's answer to `GET /v1/route?user=` (§2.7): the owner's node id and WebSocket URL. */
export async function routeOf(userId) {
  const response = await fetch(`${fleet.httpBase}/v1/route?user=${encodeURIComponent(userId)}`);
  const body = await response.json();
  if (response.status !== 200) {
    throw new Error(`GET /v1/route?user=${userId} answered ${response.status}: ${JSON.stringify(body)}`);
  }

  return { userId, nodeId: body.nodeId, url: new URL(body.url).href };
}

// Candidate users asked about before giving up: with two nodes, a user lands on either with probability 1/2.
const MAX_CANDIDATES = 200;

/**
 * Users labelled `labels`, spread over the fleet's nodes round-robin, so that the first two are owned by different
 * nodes. Fails when the fleet shows fewer than two nodes.
 */
export async function usersOnDistinctNodes(...labels) {
  const byNode = new Map();
  for (let i = 0; i < MAX_CANDIDATES && !canAssign(byNode, labels.length); i++) {
    const route = await routeOf(newUserId('u'));
    byNode.set(route.nodeId, [...(byNode.get(route.nodeId) ?? []), route]);
  }

  if (byNode.size < 2) {
    throw new Error(`the fleet at ${fleet.seed} routes every user to ${[...byNode.keys()].join(', ')}: these tests need 2+ nodes`);
  }

  const nodes = [...byNode.values()];
  return labels.map((label, i) => {
    const route = nodes[i % nodes.length].shift();
    if (route === undefined) {
      throw new Error(`not enough users found on node ${i % nodes.length} for ${labels.join(', ')}`);
    }

    return { ...route, label };
  });
}

/** A user whose owner is not the node at the seed URL, so that connecting through the seed redirects. */
export async function userNotOwnedBySeed(label) {
  for (let i = 0; i < MAX_CANDIDATES; i++) {
    const route = await routeOf(newUserId(label));
    if (route.url !== fleet.seed) {
      return route;
    }
  }

  throw new Error(`every user asked about is owned by the seed ${fleet.seed}: these tests need 2+ nodes`);
}

// Whether `count` users can be dealt round-robin over 2+ nodes from the users found so far.
function canAssign(byNode, count) {
  const nodes = [...byNode.values()];
  return nodes.length >= 2 && nodes.every((routes, k) => routes.length >= Math.ceil((count - k) / nodes.length));
}

/** Records everything a client hands over, in arrival order. */
export class Recorder {
  messages = [];
  updates = [];
  connections = [];
  replays = [];
  errors = [];
  settled = [];

  constructor(client) {
    client.on('message', (message) => this.messages.push(message));
    client.on('chatUpdate', (update) => this.updates.push(update));
    client.on('connection', (event) => this.connections.push(event));
    client.on('inboxReplayed', (replay) => this.replays.push(replay.count));
    client.on('connectionError', (error) => this.errors.push(error));
    client.on('sendSettled', (settled) => this.settled.push(settled));
  }

  /** The messages of one chat, in arrival order. */
  messagesOf(chatId) {
    return this.messages.filter((message) => message.chatId === chatId);
  }

  updatesOf(chatId) {
    return this.updates.filter((update) => update.chat.chatId === chatId);
  }

  /** Waits for a message matching `predicate`. */
  message(predicate, what) {
    return eventually(() => this.messages.find(predicate), what, { actual: () => `${this.messages.length} messages: ${brief(this.messages)}` });
  }

  /** Waits for a chat update matching `predicate`. */
  update(predicate, what) {
    return eventually(() => this.updates.find(predicate), what, { actual: () => `updates: ${JSON.stringify(this.updates.map((u) => u.deliveryId))}` });
  }

  /** Waits for a connection event matching `predicate`, at or after index `from`. */
  connection(predicate, what, from = 0) {
    return eventually(() => this.connections.slice(from).find(predicate), what, {
      actual: () => `events: ${JSON.stringify(this.connections.map((e) => e.state + (e.code ? `(${e.code})` : '')))}`,
    });
  }
}

function brief(messages) {
  return JSON.stringify(messages.slice(-10).map((m) => `${m.chatId.slice(0, 4)}#${m.seq}:${m.text.slice(0, 12)}`));
}

/**
 * Polls `probe` every 10 ms until it returns a value other than undefined/false, for at most `timeoutMs`. The failure
 * names what was awaited and, with `actual`, the state seen last.
 */
export async function eventually(probe, what, { timeoutMs = 15_000, actual } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) {
      return value;
    }

    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${actual ? `; actual: ${actual()}` : ''}`);
    }

    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A client of `userId` on the fleet (seed URL first), with a {@link Recorder} attached before it connects, closed when
 * test `t` ends. `token` replaces the default provider (a fresh one-hour token per connect attempt).
 */
export function createClient(t, userId, clientId = 'web', options = {}) {
  const client = new ChatClient({
    seeds: fleet.seed,
    token: async () => mintToken(userId, clientId),
    ...options,
  });
  const recorder = new Recorder(client);
  t.after(() => client.close());
  return { client, recorder, userId, clientId };
}

/** {@link createClient}, connected, with its first inbox replay finished. */
export async function connectClient(t, userId, clientId = 'web', options = {}) {
  const connected = createClient(t, userId, clientId, options);
  await withDeadline(connected.client.connect(), `${userId}/${clientId} to connect`);
  await withDeadline(connected.client.inboxReplayed, `${userId}/${clientId}'s first inbox replay`);
  return connected;
}

/**
 * Records, parsed, the frames sent and received by every WebSocket created from now until test `t` ends (clients
 * created earlier are not recorded).
 */
export function recordFrames(t) {
  const Original = globalThis.WebSocket;
  const frames = { sent: [], received: [] };
  globalThis.WebSocket = class RecordingWebSocket extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        if (typeof event.data === 'string') {
          frames.received.push(JSON.parse(event.data));
        }
      });
    }

    send(data) {
      if (typeof data === 'string') {
        frames.sent.push(JSON.parse(data));
      }

      super.send(data);
    }
  };
  t.after(() => {
    globalThis.WebSocket = Original;
  });
  return frames;
}

/** Awaits `promise` for at most `timeoutMs`; the failure names what was awaited. */
export async function withDeadline(promise, what, timeoutMs = 15_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
