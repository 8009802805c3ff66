// A hidden test's stdin becomes a SyntaxError thrown at run time: the test's runtime
// error (its message is hidden), never the submission's compile_error.
import { readFileSync } from 'node:fs';

const data = readFileSync(0, 'utf8');
if (data) throw new SyntaxError(data);
console.log('sandbox held');
