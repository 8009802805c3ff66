// io (runtime_error): a non-zero exit code.
console.log("sandbox held");
std.exit(3);
