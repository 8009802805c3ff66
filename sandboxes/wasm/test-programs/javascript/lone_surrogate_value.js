// A returned string with a lone surrogate is not Unicode text: the test's runtime error,
// never an infrastructure fault retried into internal_error.
export function solve() {
  return "sandbox held \ud800";
}
