// A17 (output_limit): stderr counts against the cap as much as stdout.
console.log("sandbox held");
for (;;) std.err.puts("noise ".repeat(1000));
