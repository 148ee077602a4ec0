// Chats and messages between users owned by different nodes of a real fleet (see ../README.md for how to run one).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectClient, newUserId, usersOnDistinctNodes, withDeadline } from '../test-support/fleet.mjs';

const TIMEOUT = { timeout: 60_000 };

test('two users owned by different nodes create a chat and exchange messages', TIMEOUT, async (t) => {
  const [aliceRoute, bobRoute] = await usersOnDistinctNodes('alice', 'bob');
  const alice = await connectClient(t, aliceRoute.userId);
  const bob = await connectClient(t, bobRoute.userId);
  assert.equal(alice.client.welcome.nodeId, aliceRoute.nodeId, 'alice is served by her owner');
  assert.equal(bob.client.welcome.nodeId, bobRoute.nodeId, 'bob is served by his owner');
  assert.notEqual(alice.client.welcome.nodeId, bob.client.welcome.nodeId, 'the two users are on different nodes');

  const chat = await alice.client.createChat([bob.userId], 'cross-node');
  assert.deepEqual([...chat.participants].sort(), [alice.userId, bob.userId].sort());
  assert.equal(chat.version, 1);
  const created = await bob.recorder.update((u) => u.chat.chatId === chat.chatId, "bob's CREATED update");
  assert.equal(created.kind, 'CREATED');
  assert.equal(created.actorUserId, alice.userId);
  assert.equal(created.chat.name, 'cross-node');

  const hello = await alice.client.sendMessage(chat.chatId, 'hello bob');
  assert.equal(hello.duplicate, false);
  const received = await bob.recorder.message((m) => m.messageId === hello.messageId, "alice's message at bob");
  assert.equal(received.text, 'hello bob');
  assert.equal(received.seq, hello.seq);
  assert.equal(received.senderUserId, alice.userId);
  assert.equal(received.senderClientId, alice.clientId);
  assert.equal(received.deliveryId, `m.${chat.chatId}.${hello.seq}`);

  const reply = await bob.client.sendMessage(chat.chatId, 'hi alice');
  assert.ok(reply.seq > hello.seq, `the reply's seq ${reply.seq} follows ${hello.seq}`);
  const answer = await alice.recorder.message((m) => m.messageId === reply.messageId, "bob's reply at alice");
  assert.equal(answer.text, 'hi alice');
  assert.equal(alice.recorder.messagesOf(chat.chatId).length, 1, 'the sender gets no push of its own message');
});

test('a message resent with the same clientMessageId is stored once', TIMEOUT, async (t) => {
  const [aliceRoute, bobRoute] = await usersOnDistinctNodes('alice', 'bob');
  const alice = await connectClient(t, aliceRoute.userId);
  const bob = await connectClient(t, bobRoute.userId);
  const chat = await alice.client.createChat([bob.userId]);

  const clientMessageId = `resend-${chat.chatId}`;
  const first = await alice.client.sendMessage(chat.chatId, 'only once', { clientMessageId });
  const again = await alice.client.sendMessage(chat.chatId, 'only once', { clientMessageId });
  assert.equal(first.duplicate, false);
  assert.equal(again.duplicate, true, 'the resend is answered as a duplicate');
  assert.equal(again.messageId, first.messageId);
  assert.equal(again.seq, first.seq);
  assert.equal(again.sentAtUnixMs, first.sentAtUnixMs);

  const marker = await alice.client.sendMessage(chat.chatId, 'marker');
  assert.equal(marker.seq, first.seq + 1, 'the resend consumed no seq');
  await bob.recorder.message((m) => m.messageId === marker.messageId, 'the marker at bob');
  assert.deepEqual(
    bob.recorder.messagesOf(chat.chatId).map((m) => m.text),
    ['only once', 'marker'],
    'bob got the resent message once',
  );

  const concurrent = alice.client.sendMessage(chat.chatId, 'twice at once', { clientMessageId: 'concurrent' });
  await assert.rejects(alice.client.sendMessage(chat.chatId, 'twice at once', { clientMessageId: 'concurrent' }), /in progress/);
  assert.equal((await concurrent).duplicate, false);
});

test('a group chat of three users delivers to every participant and follows membership changes', TIMEOUT, async (t) => {
  const routes = await usersOnDistinctNodes('alice', 'bob', 'carol', 'dave');
  const [alice, bob, carol, dave] = await Promise.all(routes.map((route) => connectClient(t, route.userId)));
  const chat = await alice.client.createChat([bob.userId, carol.userId], 'trio');
  assert.deepEqual([...chat.participants].sort(), [alice.userId, bob.userId, carol.userId].sort());

  for (const member of [bob, carol]) {
    const created = await member.recorder.update((u) => u.chat.chatId === chat.chatId, `${member.userId}'s CREATED`);
    assert.equal(created.kind, 'CREATED');
    assert.deepEqual([...created.chat.participants].sort(), [...chat.participants].sort());
  }

  const sent = new Map();
  for (const member of [alice, bob, carol]) {
    sent.set(member.userId, await member.client.sendMessage(chat.chatId, `from ${member.userId}`));
  }

  for (const member of [alice, bob, carol]) {
    for (const [sender, result] of sent) {
      if (sender !== member.userId) {
        const message = await member.recorder.message((m) => m.messageId === result.messageId, `${sender}'s message at ${member.userId}`);
        assert.equal(message.text, `from ${sender}`);
      }
    }

    assert.equal(member.recorder.messagesOf(chat.chatId).length, 2, `${member.userId} got the two others' messages`);
  }

  const withDave = await alice.client.addParticipant(chat.chatId, dave.userId);
  assert.equal(withDave.version, 2);
  const added = await dave.recorder.update((u) => u.chat.chatId === chat.chatId, "dave's PARTICIPANT_ADDED");
  assert.equal(added.kind, 'PARTICIPANT_ADDED');
  assert.equal(added.targetUserId, dave.userId);
  const again = await alice.client.addParticipant(chat.chatId, dave.userId);
  assert.equal(again.version, 2, 'adding a participant twice changes nothing');

  const withoutCarol = await alice.client.removeParticipant(chat.chatId, carol.userId);
  assert.equal(withoutCarol.version, 3);
  assert.ok(!withoutCarol.participants.includes(carol.userId));
  const removed = await carol.recorder.update((u) => u.chat.chatId === chat.chatId && u.kind === 'PARTICIPANT_REMOVED', "carol's removal");
  assert.equal(removed.targetUserId, carol.userId);
  assert.equal(removed.actorUserId, alice.userId);
  const carolsChats = await carol.client.listChats();
  assert.ok(!carolsChats.some((c) => c.chatId === chat.chatId), 'the chat is no longer listed for carol');

  const afterChange = await bob.client.sendMessage(chat.chatId, 'welcome dave');
  const atDave = await dave.recorder.message((m) => m.messageId === afterChange.messageId, "bob's message at dave");
  assert.equal(atDave.text, 'welcome dave');
  await alice.recorder.message((m) => m.messageId === afterChange.messageId, "bob's message at alice");
  assert.ok(!carol.recorder.messages.some((m) => m.messageId === afterChange.messageId), 'carol got nothing after her removal');
});

test('listChats returns every chat across pages, oldest first', TIMEOUT, async (t) => {
  const [aliceRoute] = await usersOnDistinctNodes('alice', 'bob');
  const alice = await connectClient(t, aliceRoute.userId);
  const created = [];
  for (let i = 0; i < 5; i++) {
    created.push((await alice.client.createChat([newUserId('peer')], `chat ${i}`)).chatId);
  }

  const first = await alice.client.listChatsPage({ limit: 2 });
  const second = await alice.client.listChatsPage({ limit: 2, after: first.next });
  const third = await alice.client.listChatsPage({ limit: 2, after: second.next });
  assert.equal(first.chats.length, 2);
  assert.notEqual(first.next, '');
  assert.equal(second.chats.length, 2);
  assert.notEqual(second.next, '');
  assert.equal(third.chats.length, 1);
  assert.equal(third.next, '', 'the third page is the last');
  assert.deepEqual([...first.chats, ...second.chats, ...third.chats].map((c) => c.chatId), created);

  assert.deepEqual((await alice.client.listChats({ pageSize: 2 })).map((c) => c.chatId), created, 'all pages of 2');
  assert.deepEqual((await alice.client.listChats({ pageSize: 3 })).map((c) => c.chatId), created, 'all pages of 3');
  const all = await withDeadline(alice.client.listChats(), 'listChats with the default page size');
  assert.deepEqual(all.map((c) => c.name), ['chat 0', 'chat 1', 'chat 2', 'chat 3', 'chat 4']);
});
