// D2: make node:assert pass everything, and node:test's test() a no-op that passes. Both
// are the learner's process's own here: the tests run in the tester's.
import assert from 'node:assert';
import strict from 'node:assert/strict';
import * as nodeTest from 'node:test';

for (const target of [assert, strict]) {
  for (const name of ['equal', 'strictEqual', 'deepStrictEqual', 'throws', 'ok']) {
    try { target[name] = () => {}; } catch {}
  }
}
try { nodeTest.default.skip = () => {}; } catch {}

export function keep() {
  return undefined;
}
export function value() {
  return undefined;
}
export function double() {
  return undefined;
}
