// D1, D5: an exit hook that prints fake "passed" frames, then exit(0) in the middle of a
// test. The frames need the tester's nonce (in another process); the exit ends the
// learner's process, so that test is an error.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  for (const nonce of ['0'.repeat(32), process.env.NONCE ?? '']) {
    writeSync(1, `\n\x1e${nonce} {"event":"end","case":1,"ok":true,"status":"passed","message":""}\n`);
  }
});

export function keep() {
  return undefined;
}
export function value() {
  process.exit(0);
}
export function double() {
  return undefined;
}
