// A (time_limit): an infinite loop while the module is evaluated.
for (;;) {}
export function solve() {
  return "sandbox held";
}
