// Inbox replay, acknowledgement and deduplication against a real fleet (see ../README.md for how to run one).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeqDedupe } from '../dist/index.js';
import { connectClient, createClient, eventually, mintToken, recordFrames, usersOnDistinctNodes, withDeadline } from '../test-support/fleet.mjs';

const TIMEOUT = { timeout: 60_000 };

test('messages sent while the recipient is offline are replayed once, in order, when it reconnects', TIMEOUT, async (t) => {
  const [aliceRoute, bobRoute] = await usersOnDistinctNodes('alice', 'bob');
  const alice = await connectClient(t, aliceRoute.userId);
  // Bob's first connection registers his client, so that his inbox receives what is sent while he is away.
  const first = await connectClient(t, bobRoute.userId, 'web');
  await first.client.close();

  const chat = await alice.client.createChat([bobRoute.userId]);
  const sent = [];
  for (let i = 1; i <= 5; i++) {
    sent.push(await alice.client.sendMessage(chat.chatId, `offline ${i}`));
  }

  const bob = await connectClient(t, bobRoute.userId, 'web');
  assert.deepEqual(bob.recorder.replays, [6], 'the replay pushed the CREATED update and the five messages');
  assert.deepEqual(
    bob.recorder.messagesOf(chat.chatId).map((m) => [m.seq, m.text, m.messageId]),
    sent.map((r, i) => [r.seq, `offline ${i + 1}`, r.messageId]),
    'each message once, in seq order',
  );
  assert.deepEqual(bob.recorder.updatesOf(chat.chatId).map((u) => u.kind), ['CREATED']);
  assert.equal(bob.client.stats.duplicates, 0);

  // Closing sends the gathered acks: the next connection of this client is replayed nothing.
  await bob.client.close();
  const later = await connectClient(t, bobRoute.userId, 'web');
  assert.deepEqual(later.recorder.replays, [0], 'everything was acknowledged');
  assert.equal(later.recorder.messages.length, 0);
});

test('a running client acknowledges quietly: the node answers none of its acks, and they remove the entries', TIMEOUT, async (t) => {
  const [aliceRoute, bobRoute] = await usersOnDistinctNodes('alice', 'bob');
  const alice = await connectClient(t, aliceRoute.userId);
  const frames = recordFrames(t);
  const bob = await connectClient(t, bobRoute.userId, 'web');

  const chat = await alice.client.createChat([bobRoute.userId]);
  const sent = [];
  for (let i = 1; i <= 3; i++) {
    sent.push(await alice.client.sendMessage(chat.chatId, `quiet ${i}`));
  }

  await eventually(() => bob.recorder.messagesOf(chat.chatId).length === 3, 'the three messages at bob');
  const deliveryIds = [`u.${chat.chatId}.1`, ...sent.map((r) => `m.${chat.chatId}.${r.seq}`)];
  const acks = () => frames.sent.filter((frame) => frame.ack !== undefined);
  await eventually(() => deliveryIds.every((id) => acks().some((frame) => frame.ack.deliveryIds.includes(id))), 'acks of the update and the messages', {
    actual: () => JSON.stringify(acks()),
  });
  assert.ok(acks().every((frame) => frame.ack.quiet === true), 'every automatic ack of a running client is quiet');

  // An explicit ack is answered, after the quiet ones sent before it on the same connection.
  assert.equal(await bob.client.ack(deliveryIds), 0, 'the quiet acks removed the four entries');
  assert.equal(frames.received.filter((frame) => frame.ackResult !== undefined).length, 1, 'only the explicit ack was answered');
});

test('a message pushed again after a reconnect is not handed to the application twice', TIMEOUT, async (t) => {
  const [aliceRoute, bobRoute] = await usersOnDistinctNodes('alice', 'bob');
  const alice = await connectClient(t, aliceRoute.userId);
  let connectedOnce = false;
  // No automatic acks, and a token that expires (close 4004) after the first connection: the inbox still holds every
  // item when the client reconnects, so the replay pushes them all again.
  const bob = createClient(t, bobRoute.userId, 'web', {
    autoAck: false,
    token: async () => mintToken(bobRoute.userId, 'web', { ttlSeconds: connectedOnce ? 3600 : 3 }),
  });
  bob.client.on('connection', (event) => {
    connectedOnce ||= event.state === 'connected';
  });
  await withDeadline(bob.client.connect(), 'bob to connect');

  const chat = await alice.client.createChat([bobRoute.userId]);
  const sent = [];
  for (let i = 1; i <= 3; i++) {
    sent.push(await alice.client.sendMessage(chat.chatId, `live ${i}`));
  }

  await eventually(() => bob.recorder.messagesOf(chat.chatId).length === 3, 'the three live messages at bob');
  const closed = await bob.recorder.connection((e) => e.state === 'closed', 'the 4004 close');
  assert.equal(closed.code, 4004);
  await eventually(() => bob.recorder.replays.length === 2, "the second connection's replay", {
    actual: () => `replays ${JSON.stringify(bob.recorder.replays)}`,
  });
  assert.equal(bob.recorder.replays[1], 4, 'the replay pushed every unacknowledged item again');
  assert.equal(bob.client.stats.connections, 2);
  assert.equal(bob.client.stats.duplicates, 4, 'the four repeats were dropped');
  assert.deepEqual(
    bob.recorder.messagesOf(chat.chatId).map((m) => m.messageId),
    sent.map((r) => r.messageId),
    'each message handed over once',
  );
  assert.equal(bob.recorder.updatesOf(chat.chatId).length, 1);

  const deliveryIds = [`u.${chat.chatId}.1`, ...sent.map((r) => `m.${chat.chatId}.${r.seq}`)];
  assert.equal(await bob.client.ack(deliveryIds), 4, 'the explicit ack removed the four entries');
  assert.equal(await bob.client.ack(deliveryIds), 0, 'acknowledging again removes nothing');
});

test('a dedupe shared by two clients in turn hands a replayed item over once', TIMEOUT, async (t) => {
  const [aliceRoute, bobRoute] = await usersOnDistinctNodes('alice', 'bob');
  const alice = await connectClient(t, aliceRoute.userId);
  const dedupe = new SeqDedupe();
  const first = await connectClient(t, bobRoute.userId, 'web', { dedupe, autoAck: false });
  const chat = await alice.client.createChat([bobRoute.userId]);
  const message = await alice.client.sendMessage(chat.chatId, 'seen by the first client');
  await first.recorder.message((m) => m.messageId === message.messageId, 'the message at the first client');
  await first.client.close();

  const restored = new SeqDedupe(1024, dedupe.snapshot());
  const second = await connectClient(t, bobRoute.userId, 'web', { dedupe: restored });
  assert.deepEqual(second.recorder.replays, [2], 'the unacknowledged update and message were replayed');
  assert.equal(second.recorder.messages.length, 0, 'nothing handed over twice');
  assert.equal(second.client.stats.duplicates, 2);
});
