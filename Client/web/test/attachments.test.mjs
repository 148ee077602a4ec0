// Attachments through the fleet's media store (see ../README.md for how to run a fleet with one).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { AttachmentIntegrityError, ChatError, sha256Hex } from '../dist/index.js';
import { connectClient, usersOnDistinctNodes } from '../test-support/fleet.mjs';

const TIMEOUT = { timeout: 60_000 };

test('an attachment uploaded by one user is downloaded by another, byte for byte', TIMEOUT, async (t) => {
  const [aliceRoute, bobRoute] = await usersOnDistinctNodes('alice', 'bob');
  const alice = await connectClient(t, aliceRoute.userId);
  const bob = await connectClient(t, bobRoute.userId);
  const chat = await alice.client.createChat([bob.userId]);

  const bytes = new Uint8Array(randomBytes(70_000));
  const attachment = await alice.client.uploadAttachment(bytes, 'image/png');
  assert.equal(attachment.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(attachment.size, bytes.byteLength);
  assert.equal(attachment.contentType, 'image/png');

  const sent = await alice.client.sendMessage(chat.chatId, 'look', { attachments: [attachment] });
  const received = await bob.recorder.message((m) => m.messageId === sent.messageId, 'the message with the attachment at bob');
  assert.equal(received.text, 'look');
  assert.deepEqual(received.attachments, [attachment]);

  const downloaded = await bob.client.downloadAttachment(attachment.attachmentId);
  assert.equal(downloaded.byteLength, bytes.byteLength);
  assert.ok(Buffer.from(downloaded).equals(Buffer.from(bytes)), 'the downloaded bytes are the uploaded ones');

  const grant = await bob.client.getAttachmentDownload(attachment.attachmentId);
  assert.deepEqual(grant.attachment, attachment);
  assert.ok(grant.expiresAtUnixMs > 0);
});

test('a download whose bytes do not match the attachment SHA-256 fails', TIMEOUT, async (t) => {
  const [aliceRoute] = await usersOnDistinctNodes('alice', 'bob');
  const alice = await connectClient(t, aliceRoute.userId);
  const declared = new Uint8Array(randomBytes(1_000));
  const grant = await alice.client.getAttachmentUpload('application/pdf', declared.byteLength, await sha256Hex(declared));

  // Other bytes of the declared size: the store takes them, and only the downloader's hash check notices.
  const other = new Uint8Array(randomBytes(declared.byteLength));
  const put = await fetch(grant.uploadUrl, { method: 'PUT', headers: { 'Content-Type': 'application/pdf' }, body: other });
  await put.arrayBuffer();
  assert.ok(put.ok, `the media store took the PUT (${put.status})`);

  const failure = await alice.client.downloadAttachment(grant.attachmentId).then(() => undefined, (error) => error);
  assert.ok(failure instanceof AttachmentIntegrityError, `an AttachmentIntegrityError, got ${failure}`);
  assert.equal(failure.expectedSha256, await sha256Hex(declared));
  assert.equal(failure.actualSha256, await sha256Hex(other));
});

test('a content type the node does not allow is refused with BAD_REQUEST', TIMEOUT, async (t) => {
  const [aliceRoute] = await usersOnDistinctNodes('alice', 'bob');
  const alice = await connectClient(t, aliceRoute.userId);
  const failure = await alice.client.uploadAttachment(new Uint8Array([1, 2, 3]), 'text/html').then(() => undefined, (error) => error);
  assert.ok(failure instanceof ChatError, `a ChatError, got ${failure}`);
  assert.equal(failure.code, 'BAD_REQUEST');
  assert.equal(failure.outcomeUnknown, false);
  assert.equal(failure.retryable, false);
});
