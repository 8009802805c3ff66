// The names of the tests of this batch (set by tester.mjs before any test file loads).
let names = null;
let count = 0;

export function setWanted(list) {
  names = new Set(list);
}

export function wanted(name) {
  count += 1;
  return names === null || names.has(name);
}

/** How many tests the test files registered. */
export function registered() {
  return count;
}
