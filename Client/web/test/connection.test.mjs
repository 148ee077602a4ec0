// Connecting, redirects, reconnects and close codes against a real fleet (see ../README.md for how to run one).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatConnectionError } from '../dist/index.js';
import {
  connectClient,
  createClient,
  eventually,
  fleet,
  mintToken,
  newUserId,
  routeOf,
  userNotOwnedBySeed,
  usersOnDistinctNodes,
  withDeadline,
} from '../test-support/fleet.mjs';

const TIMEOUT = { timeout: 60_000 };

test('a client that connects through a node not owning its user follows the redirect to the owner', TIMEOUT, async (t) => {
  const owner = await userNotOwnedBySeed('redirected');
  const { client, recorder } = await connectClient(t, owner.userId);
  assert.equal(client.welcome.nodeId, owner.nodeId, 'welcomed by the owner');
  assert.equal(client.url, owner.url, 'the owner is remembered for the next connect');
  assert.equal(client.stats.redirects, 1);
  assert.deepEqual(
    recorder.connections.map((e) => e.state),
    ['connecting', 'redirected', 'connecting', 'connected'],
  );
  const redirected = recorder.connections[1];
  assert.equal(redirected.from, fleet.seed);
  assert.equal(redirected.to, owner.url);
  assert.equal(redirected.nodeId, owner.nodeId);
  assert.ok(redirected.epoch > 0, `the redirect carries a ring epoch (${redirected.epoch})`);
  assert.equal(recorder.connections[3].redirects, 1);
  assert.ok((await client.ping()) > 0, 'the owner answers requests');
});

test('a connect that needs more redirects than maxRedirects fails and stops the client', TIMEOUT, async (t) => {
  const owner = await userNotOwnedBySeed('bounded');
  const { client } = createClient(t, owner.userId, 'web', { maxRedirects: 0 });
  const failure = await withDeadline(client.connect().then(() => undefined, (error) => error), 'the connect to fail');
  assert.ok(failure instanceof ChatConnectionError, `a ChatConnectionError, got ${failure}`);
  assert.match(failure.message, /more than 0 redirects/);
  assert.equal(failure.terminal, false);
  await withDeadline(client.closed, 'the client to stop');
  assert.equal(client.isConnected, false);
});

test('after its token expires (4004) the client reconnects with a fresh token, and sends across the gap are stored once', TIMEOUT, async (t) => {
  const [aliceRoute, bobRoute] = await usersOnDistinctNodes('alice', 'bob');
  const bob = await connectClient(t, bobRoute.userId);
  const tokenRequests = [];
  let expiresAtMs = 0;
  let connectedOnce = false;
  const alice = createClient(t, aliceRoute.userId, 'web', {
    token: async (request) => {
      tokenRequests.push(request.expired);
      if (connectedOnce) {
        return mintToken(aliceRoute.userId, 'web');
      }

      // Short-lived until the first welcome: the node closes that connection with 4004 when it expires.
      expiresAtMs = (Math.floor(Date.now() / 1000) + 3) * 1000;
      return mintToken(aliceRoute.userId, 'web', { ttlSeconds: 3 });
    },
  });
  alice.client.on('connection', (event) => {
    connectedOnce ||= event.state === 'connected';
  });
  await withDeadline(alice.client.connect(), 'alice to connect');
  const chat = await alice.client.createChat([bob.userId]);

  // Send one message after another from shortly before the expiry until the client is back, so that sends are in
  // flight, or waiting for the connection, when it closes.
  await eventually(() => Date.now() >= expiresAtMs - 300, 'the last 300 ms before the token expires');
  const results = [];
  let sentAfterReconnect = 0;
  for (let i = 0; sentAfterReconnect < 2 && i < 200; i++) {
    results.push(await alice.client.sendMessage(chat.chatId, `message ${i}`));
    if (alice.client.stats.connections >= 2) {
      sentAfterReconnect++;
    }
  }

  assert.equal(sentAfterReconnect, 2, `the client reconnected within ${results.length} sends`);

  const closed = await alice.recorder.connection((e) => e.state === 'closed', 'the 4004 close');
  assert.equal(closed.code, 4004);
  assert.equal(closed.willReconnect, true);
  await alice.recorder.connection((e) => e.state === 'reconnecting', 'a reconnect');
  assert.equal(alice.client.stats.connections, 2);
  assert.ok(alice.client.isConnected);
  assert.equal(tokenRequests.at(-1), true, 'the reconnect asked for a fresh token, flagged expired');
  assert.equal(tokenRequests[0], false);

  const seqs = results.map((r) => r.seq);
  assert.equal(new Set(seqs).size, results.length, `one seq per send: ${seqs}`);
  await eventually(() => bob.recorder.messagesOf(chat.chatId).length >= results.length, `bob to get ${results.length} messages`, {
    actual: () => `${bob.recorder.messagesOf(chat.chatId).length} messages`,
  });
  const received = bob.recorder.messagesOf(chat.chatId).map((m) => m.seq).sort((a, b) => a - b);
  assert.deepEqual(received, Array.from({ length: results.length }, (_, i) => i + 1), 'seqs 1..n: nothing stored twice');
});

test('a client deactivated by another client of its user stops with 4101 and does not reconnect', TIMEOUT, async (t) => {
  const userId = newUserId('owner');
  const phone = await connectClient(t, userId, 'phone');
  const laptop = await connectClient(t, userId, 'laptop');
  assert.deepEqual((await laptop.client.listClients()).map((c) => c.clientId).sort(), ['laptop', 'phone']);

  await laptop.client.deactivateClient('phone');
  const close = await withDeadline(phone.client.closed, 'the phone to stop');
  assert.equal(close.code, 4101);
  const closed = phone.recorder.connections.filter((e) => e.state === 'closed');
  assert.deepEqual(closed.map((e) => [e.code, e.willReconnect]), [[4101, false]]);
  assert.ok(!phone.recorder.connections.some((e) => e.state === 'reconnecting'), 'no reconnect after a terminal code');
  assert.deepEqual((await laptop.client.listClients()).map((c) => c.clientId), ['laptop']);
  await assert.rejects(phone.client.ping(), ChatConnectionError);
});

test('a fourth client of a user is refused for good with TOO_MANY_CLIENTS (4104)', TIMEOUT, async (t) => {
  const userId = newUserId('crowded');
  for (const clientId of ['one', 'two', 'three']) {
    await connectClient(t, userId, clientId);
  }

  // The owner first, then the seed: a terminal refusal must not be retried at the next seed.
  const owner = await routeOf(userId);
  const { client, recorder } = createClient(t, userId, 'four', { seeds: [owner.url, fleet.seed] });
  const failure = await withDeadline(client.connect().then(() => undefined, (error) => error), 'the fourth connect to fail');
  assert.ok(failure instanceof ChatConnectionError, `a ChatConnectionError, got ${failure}`);
  assert.equal(failure.closeCode, 4104);
  assert.equal(failure.terminal, true);
  assert.equal(failure.cause.code, 'TOO_MANY_CLIENTS');
  assert.equal((await withDeadline(client.closed, 'the client to stop')).code, 4104);
  assert.equal(recorder.connections.filter((e) => e.state === 'connecting').length, 1, 'a terminal refusal is not retried at other seeds');
});
