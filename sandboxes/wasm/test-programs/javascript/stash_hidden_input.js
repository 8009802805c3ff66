// The hidden test's argument is kept on globalThis and returned by the visible test: if
// the hidden test ran first, the visible test's "actual" would show it to the learner.
// Visible tests run before hidden ones, so the stash is empty when they run.
export function solve(...args) {
  if (args.length) {
    globalThis.stash = args[0];
    return "sandbox held";
  }
  return globalThis.stash ?? "sandbox held";
}
