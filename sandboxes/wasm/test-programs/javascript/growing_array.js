// A4 (memory_limit): an array that keeps growing.
export function solve() {
  const hoard = [];
  for (;;) hoard.push(new Array(10000).fill(0));
}
