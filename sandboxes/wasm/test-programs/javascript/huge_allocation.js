// A4 (memory_limit): one huge allocation, far past the limit.
export function solve() {
  const block = new Uint8Array(1024 * 1024 * 1024);
  return block.length;
}
