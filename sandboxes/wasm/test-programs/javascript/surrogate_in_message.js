// An error whose message holds a lone surrogate: the test's runtime error, with the
// message made well-formed, never an unreadable frame.
export function solve() {
  throw new Error("no \udc80 here");
}
