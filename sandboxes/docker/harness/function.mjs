// verdict's function harness for the Docker runner (JavaScript, an ES module).
//
// Reads one JSON request from stdin -- {nonce, entrypoint, function, args} -- imports the
// learner's module from /work/app, calls the named export once (awaiting a promise), and
// writes the returned value as the last line of stdout, in an `end` frame
// (src/runner/frame.rs): "\n" "\x1e" <nonce> ' {"event":"end","case":0,"ok":true,"value":' <json> "}\n". The host compares it with the expected value,
// which never enters the container; it accepts exactly one frame, at the very end.
import { readFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const APP = '/work/app/';
const stringify = JSON.stringify;
const write = writeSync;
const exit = process.reallyExit ? process.reallyExit.bind(process) : process.exit.bind(process);
/** Beyond this a Number is not an exact integer: it is written as a float. */
const EXACT = 2 ** 53;
/** A lone surrogate (a well-formed pair is one code point in `u` mode). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

// The same rules as the wasm runner's harness (sandboxes/wasm/harness/javascript):
// one answer, one verdict, on either runner.
function plain(value, depth = 0) {
  if (depth > 100) throw new TypeError('the value is nested too deeply');
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) {
      throw new TypeError("a string holds a lone surrogate (such as '\\ud800'), which is not Unicode text");
    }
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${value} cannot be represented in JSON`);
    return value;
  }
  // A BigInt is an exact integer of any size.
  if (typeof value === 'bigint') return value;
  if (value === undefined) throw new TypeError('the function returned undefined');
  if (Array.isArray(value)) return value.map((item) => plain(item, depth + 1));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, plain(key, depth + 1), {
        value: plain(value[key], depth + 1), enumerable: true, writable: true, configurable: true,
      });
    }
    return out;
  }
  const name = value?.constructor?.name;
  throw new TypeError(`an object of class ${name || '?'} is not JSON: return plain objects and arrays`);
}

/** JSON text of a plain value: BigInts as their digits, Numbers past 2^53 as floats. */
function encode(value) {
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) >= EXACT) {
    return value.toExponential();
  }
  if (Array.isArray(value)) return `[${value.map(encode).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).map((key) => `${stringify(key)}:${encode(value[key])}`).join(',')}}`;
  }
  return stringify(value);
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
  const result = await fn(...request.args);
  let copy;
  try {
    copy = plain(result);
  } catch (problem) {
    process.stderr.write(`TypeError: the return value: ${problem.message}\n`);
    exit(1);
  }
  text = encode(copy);
} catch (error) {
  process.stderr.write(describe(error) + '\n');
  exit(1);
}
let frame = Buffer.from(`\n\x1e${request.nonce} {"event":"end","case":0,"ok":true,"value":${text}}\n`);
while (frame.length) frame = frame.subarray(write(1, frame));
exit(0);
