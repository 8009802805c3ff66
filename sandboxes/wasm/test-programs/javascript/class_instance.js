// D3 (runtime_error): a class instance is not a JSON value, whatever it pretends.
class Liar {
  toJSON() { return "sandbox held"; }
  valueOf() { return "sandbox held"; }
}
export function solve() {
  return new Liar();
}
