// verdict's function harness for the Docker runner (JavaScript, an ES module).
//
// Reads one JSON request from stdin -- {nonce, entrypoint, function, args} -- imports the
// learner's module from /work/app, calls the named export once (awaiting a promise), and
// writes the returned value as the last line of stdout:
// "\n" "\x1e" <nonce> " " <json> "\n". The host compares it with the expected value,
// which never enters the container; it accepts exactly one frame, at the very end.
import { readFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const APP = '/work/app/';
const stringify = JSON.stringify;
const write = writeSync;
const exit = process.reallyExit ? process.reallyExit.bind(process) : process.exit.bind(process);

function plain(value, depth = 0) {
  if (depth > 100) throw new Error('the value is nested too deeply');
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${value} cannot be represented in JSON`);
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => plain(item, depth + 1));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out = {};
    for (const key of Object.keys(value)) out[key] = plain(value[key], depth + 1);
    return out;
  }
  if (value === undefined) return null;
  throw new Error('the value is not JSON: use arrays, plain objects, strings, numbers, booleans or null');
}

function describe(error) {
  if (error instanceof Error) {
    const lines = String(error.stack || error).split('\n');
    const kept = lines.filter((line, index) => index === 0 || line.includes(APP));
    return kept.join('\n').slice(-4000);
  }
  return `uncaught ${String(error)}`.slice(0, 4000);
}

const request = JSON.parse(readFileSync(0, 'utf8'));
let text;
try {
  const module = await import(pathToFileURL(APP + request.entrypoint).href);
  const fn = module[request.function];
  if (typeof fn !== 'function') {
    process.stderr.write(`${request.entrypoint} exports no function named ${request.function}\n`);
    exit(1);
  }
  text = stringify(plain(await fn(...request.args)));
} catch (error) {
  process.stderr.write(describe(error) + '\n');
  exit(1);
}
let frame = Buffer.from(`\n\x1e${request.nonce} ${text}\n`);
while (frame.length) frame = frame.subarray(write(1, frame));
exit(0);
