// A15 (output_limit): a print loop.
export function solve() {
  for (;;) console.log("spam spam spam spam spam spam spam spam");
}
