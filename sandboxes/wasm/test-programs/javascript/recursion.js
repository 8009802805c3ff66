// A14 (runtime_error): unbounded recursion.
export function solve(depth = 0) {
  return solve(depth + 1) + 1;
}
