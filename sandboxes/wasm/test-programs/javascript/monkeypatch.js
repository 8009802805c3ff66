// D2/D10 (wrong_answer): replace JSON, console and the prototype chain, then answer wrongly.
JSON.stringify = () => '"sandbox held"';
JSON.parse = () => "sandbox held";
Reflect.apply = () => undefined;
console.log = () => {};
Object.prototype.toJSON = function () { return "sandbox held"; };
export function solve() {
  return "wrong";
}
