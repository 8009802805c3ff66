export function fizzBuzz(n) {
  const result = [];
  for (let i = 1; i <= n; i++) {
    // TODO: use "Fizz", "Buzz" and "FizzBuzz" where the rules say so
    result.push(String(i));
  }
  return result;
}
