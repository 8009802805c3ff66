// node:test as the test files see it in verdict's tester: the real module, except that
// `test`, `it`, `describe` and `suite` run only the tests of this batch (the others are
// registered as skipped). Visible tests run in one batch and hidden ones in another,
// each with a fresh learner's process, so that nothing a hidden test passed to the
// learner's code can show in a visible test's message.
import * as real from 'node:test';
import { wanted } from './tester-state.mjs';

export * from 'node:test';

const path = [];

function parts(args) {
  let [name, options, fn] = args;
  if (typeof name === 'function') [name, options, fn] = [name.name, {}, name];
  if (typeof options === 'function') [options, fn] = [{}, options];
  return [String(name ?? '<anonymous>'), options ?? {}, fn];
}

function leaf(register) {
  const wrapped = (...args) => {
    const [name, options, fn] = parts(args);
    const full = [...path, name].join(' > ');
    return register(name, wanted(full) ? options : { ...options, skip: 'not in this batch' }, fn);
  };
  return Object.assign(wrapped, register);
}

function group(register) {
  const wrapped = (...args) => {
    const [name, options, fn] = parts(args);
    return register(name, options, (...inner) => {
      path.push(name);
      try {
        return fn?.(...inner);
      } finally {
        path.pop();
      }
    });
  };
  return Object.assign(wrapped, register);
}

export const test = leaf(real.test);
export const it = leaf(real.it);
export const describe = group(real.describe);
export const suite = real.suite ? group(real.suite) : describe;
export default test;
