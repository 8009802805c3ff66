// compile_error: a syntax error.
export function solve( {
  return "sandbox held";
}
