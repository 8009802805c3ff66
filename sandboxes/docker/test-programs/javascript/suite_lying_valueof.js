// D3: objects whose valueOf and toString claim the expected values. A learner object is
// never a primitive on the tester's side, so it equals nothing the tests expect.
const liar = (answer) => ({ valueOf: () => answer, toString: () => String(answer) });

export function keep() {
  return undefined;
}
export function value() {
  return liar('sandbox held');
}
export function double(n) {
  if (typeof n !== 'number') throw new TypeError('double() takes a number');
  return liar(2 * n);
}
