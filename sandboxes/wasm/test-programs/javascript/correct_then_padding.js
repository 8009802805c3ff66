// A16 (output_limit): the right answer, then padding past the output cap.
console.log("sandbox held");
std.out.puts("x".repeat(1 << 20));
