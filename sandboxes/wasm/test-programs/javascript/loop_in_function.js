// A (time_limit): an infinite loop inside the called function.
export function solve() {
  for (;;) {}
}
