// A11 (time_limit): a blocking sleep outlasts the wall limit.
export function solve() {
  os.sleep(3600 * 1000);
  return "sandbox held";
}
