// suite (accepted): the module the tests want.
export function keep() {
  return undefined;
}
export function value() {
  return 'sandbox held';
}
export function double(n) {
  if (typeof n !== 'number') throw new TypeError('double() takes a number');
  return 2 * n;
}
