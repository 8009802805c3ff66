// D1 (runtime_error): std.exit(0) ends the interpreter in the middle of the call.
export function solve() {
  std.exit(0);
}
