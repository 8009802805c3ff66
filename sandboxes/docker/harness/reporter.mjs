// verdict's node:test reporter for the Docker runner. It is loaded twice under one URL,
// so as one module: first with --import, before any test file, when it reads the
// per-run nonce from stdin (so learner code finds stdin empty); then as the
// --test-reporter, when it turns the runner's events into frames on stdout:
// "\n" "\x1e" <nonce> " " {"name", "status", "message"} "\n". A name is the test's
// path, "describe name > test name". Output a test prints is not a frame, so printing
// TAP or JSON cannot report a result.
import { readFileSync } from 'node:fs';
import assert from 'node:assert';

const nonce = readFileSync(0, 'utf8').trim();
// Loaded before any test or learner code: the assertion module cannot be changed
// afterwards (a learner's `assert.strictEqual = () => {}` throws).
for (const object of [assert, assert.strict]) Object.freeze(object);
const stringify = JSON.stringify;
let used = false;

export default async function* reporter(source) {
  if (used) return;
  used = true;
  const open = [];
  for await (const event of source) {
    const data = event.data ?? {};
    if (event.type === 'test:start') {
      open.length = data.nesting;
      open.push(data.name);
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const path = [...open.slice(0, data.nesting), data.name].join(' > ');
    const details = data.details ?? {};
    let status = event.type === 'test:pass' ? 'passed' : 'failed';
    if (data.skip !== undefined || data.todo !== undefined) status = 'skipped';
    const error = details.error;
    let message = '';
    if (error) {
      const cause = error.cause ?? error;
      message = String(cause?.message ?? cause).slice(0, 4000);
      if (error.failureType && error.failureType !== 'testCodeFailure') status = 'error';
    }
    yield `\n\x1e${nonce} ${stringify({ name: path, status, message })}\n`;
  }
}
