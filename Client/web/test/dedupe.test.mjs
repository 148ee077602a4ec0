// SeqDedupe is pure logic: these tests need no fleet.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeqDedupe } from '../dist/index.js';

const message = (chatId, number) => ({ chatId, kind: 'message', number });

test('SeqDedupe accepts each chat and number once, per kind', () => {
  const dedupe = new SeqDedupe();
  assert.equal(dedupe.tryAccept(message('a', 2)), true);
  assert.equal(dedupe.tryAccept(message('a', 1)), true, 'an older number arriving late is still new');
  assert.equal(dedupe.tryAccept(message('a', 2)), false);
  assert.equal(dedupe.tryAccept(message('b', 2)), true, 'chats are independent');
  assert.equal(dedupe.tryAccept({ chatId: 'a', kind: 'chatUpdate', number: 2 }), true, 'kinds are independent');
});

test('SeqDedupe raises its floor past the window and restores from a snapshot', () => {
  const dedupe = new SeqDedupe(2);
  for (const n of [1, 2, 3]) {
    assert.equal(dedupe.tryAccept(message('a', n)), true);
  }

  assert.deepEqual(dedupe.snapshot(), [{ chatId: 'a', kind: 'message', floor: 1, above: [2, 3] }]);
  assert.equal(dedupe.tryAccept(message('a', 1)), false, 'at or below the floor counts as seen');

  const restored = new SeqDedupe(2, dedupe.snapshot());
  assert.equal(restored.tryAccept(message('a', 3)), false);
  assert.equal(restored.tryAccept(message('a', 4)), true);
  assert.throws(() => new SeqDedupe(0), RangeError);
});
