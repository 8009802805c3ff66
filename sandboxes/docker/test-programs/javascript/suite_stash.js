// The hidden test's secret is kept and shown by the visible test. node:test runs tests in
// their file's order (the hidden one first here), so visible and hidden tests run in
// batches of their own, each with a fresh learner's process: the stash is empty.
const stash = [];

export function keep(item) {
  stash.push(item);
  return undefined;
}
export function value() {
  return stash.length ? stash[0] : 'sandbox held';
}
export function double(n) {
  if (typeof n !== 'number') throw new TypeError('double() takes a number');
  return 2 * n;
}
