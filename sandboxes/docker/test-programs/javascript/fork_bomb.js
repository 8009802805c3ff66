// A1: spawn processes until refused.
import { spawn } from 'node:child_process';
let children = 0;
let refused = false;
for (let i = 0; i < 300 && !refused; i++) {
  try {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    child.on('error', () => { refused = true; });
    children++;
  } catch {
    refused = true;
  }
}
setTimeout(() => {
  console.log(refused ? 'sandbox held' : `escaped: ${children} processes`);
  process.exit(0);
}, 500);
