// The instructor's node:test file of the table's JavaScript suite programs (kind =
// "suite"): each program is the learner's module `held.js`. `secret` is hidden and comes
// first in the manifest; it hands the learner's code a secret, which nothing a learner
// sees may show. `held` passes only if the module really works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { double, keep, value } from './held.js';

test('secret', () => {
  assert.equal(keep('hidden-input-7f3a9c'), undefined);
});

test('held', () => {
  assert.equal(value(), 'sandbox held');
  assert.equal(double(21), 42);
  assert.equal(double(-4), -8);
  assert.throws(() => double('x'), TypeError);
});
