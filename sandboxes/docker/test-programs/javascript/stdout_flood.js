// A15: unbounded stdout (synchronous writes, so nothing is buffered in the process).
import { writeSync } from 'node:fs';
const block = 'x'.repeat(4096);
for (;;) writeSync(1, block);
