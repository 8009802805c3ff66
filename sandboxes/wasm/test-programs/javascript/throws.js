// runtime_error: an exception escapes the function.
export function solve() {
  throw new Error("the learner's bug");
}
