import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from './queue.js';

test('a new queue is empty', () => {
  const queue = new Queue(3);
  assert.equal(queue.size, 0);
  assert.equal(queue.isEmpty(), true);
});

test('first in, first out', () => {
  const queue = new Queue(3);
  queue.push('a');
  queue.push('b');
  assert.equal(queue.shift(), 'a');
  assert.equal(queue.shift(), 'b');
  assert.equal(queue.size, 0);
});

describe('capacity', () => {
  test('push on a full queue throws', () => {
    const queue = new Queue(1);
    queue.push(1);
    assert.throws(() => queue.push(2), /full/);
  });

  test('capacity must be a positive integer', () => {
    assert.throws(() => new Queue(0), RangeError);
    assert.throws(() => new Queue(1.5), RangeError);
  });
});

test('peek does not remove', () => {
  const queue = new Queue(2);
  queue.push('x');
  assert.equal(queue.peek(), 'x');
  assert.equal(queue.size, 1);
});

test('shift on an empty queue returns undefined', () => {
  assert.equal(new Queue(1).shift(), undefined);
});
