// 2**53 + 1 cannot be a Number: the sum rounds, and the float it is never passes for the
// exact integer 9007199254740993 (expected_json).
export function solve() {
  return 2 ** 53 + 1;
}
