// io (accepted): a well-behaved program reads its stdin and answers.
const input = std.in.readAsString();
console.log(input.length >= 0 ? "sandbox held" : "no");
