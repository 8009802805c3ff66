// A hidden test's stdin becomes a SyntaxError thrown at run time. That is the test's
// runtime error, and a hidden test shows no message; it must not become the
// submission's compile_error, whose message every learner sees.
const data = std.in.readAsString();
if (data) throw new SyntaxError(data);
console.log("sandbox held");
