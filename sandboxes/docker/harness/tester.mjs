// verdict's node:test tester for the Docker runner: runs the instructor's test files with
// node:test in a process of the tester's user (uid 10003), where no learner code ever
// runs. A test file's import of the learner's module resolves to a proxy module
// (hooks.mjs): every use of it is a message to the learner's process (serve.mjs, another
// uid, which never sees the test files), relayed by the host. So node:test, node:assert,
// the test files and this module's nonce are out of the learner's reach.
//
// This module is also the run's node:test reporter (`--test-reporter` with the same URL,
// so the same module): it records each test's result by its path ("describe > test"),
// and once every test has run it answers the host's cases, one `begin`/`end` pair each.
// stdin: the request line, `go`, the learner's answers (`{"relay": ...}`) while the
// tests run, then the cases (`{"test": name}`, the first after the `loaded` frame).
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { ProtocolError, Tester, lineReader, writeAll } from './proxy.mjs';
import { registered, setWanted } from './tester-state.mjs';

const readLine = lineReader(0);
const results = new Map();
let host = null;
let finished = false;

/** Valid Unicode in every string of a frame (a lone surrogate becomes U+FFFD). */
function clean(value) {
  if (typeof value === 'string') return value.toWellFormed ? value.toWellFormed() : value.replace(/[\uD800-\uDFFF]/gu, '\uFFFD');
  if (Array.isArray(value)) return value.map(clean);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [clean(key), clean(item)]));
  }
  return value;
}

function line(key) {
  const text = readLine();
  if (text === null) throw new ProtocolError("the submission's side stopped answering");
  const message = JSON.parse(text);
  const keys = message !== null && typeof message === 'object' ? Object.keys(message) : [];
  if (keys.length !== 1 || keys[0] !== key) throw new ProtocolError(`expected a ${key} line`);
  return message[key];
}

/** Every case of the batch, from the recorded results; then the end of the run. */
function finish() {
  if (finished) return;
  finished = true;
  host.emit({ event: 'loaded' });
  for (let index = host.request.start ?? 0; index < host.request.count; index++) {
    const name = line('test');
    host.emit({ event: 'begin', case: index });
    const result = results.get(name) ?? {
      status: 'error',
      message: `no test named ${JSON.stringify(name)} ran; the suite has: ${[...results.keys()].sort().join(', ') || 'none'}`,
    };
    host.emit({ event: 'end', case: index, ok: true, status: result.status, message: result.message.slice(0, 4000) });
  }
  host.emit({ event: 'done' });
  process.exit(0);
}

async function main() {
  const request = JSON.parse(readLine());
  const marker = `\n\x1e${request.nonce} `;
  host = { request, emit: (event) => writeAll(1, `${marker}${JSON.stringify(clean(event))}\n`) };
  line('go');
  host.emit({ event: 'ready' });
  const tester = new Tester(
    (message) => host.emit({ event: 'call', data: JSON.stringify(message) }),
    () => {
      try {
        return JSON.parse(line('relay'));
      } catch (error) {
        throw error instanceof ProtocolError ? error : new ProtocolError("the submission's answer is not JSON");
      }
    },
  );
  host.emit({ event: 'load' });
  try {
    const modules = {};
    for (const name of request.modules) modules[name] = tester.ask({ op: 'import', module: name });
    setWanted(request.tests);
    register('./hooks.mjs', import.meta.url, { data: { modules } });
    for (const file of request.suite) await import(pathToFileURL(file).href);
  } catch (error) {
    const text = String(error?.stack ?? error);
    host.emit({ event: 'load_error', error: { type: String(error?.name ?? 'Error'), message: String(error?.message ?? error).slice(0, 2000), traceback: text.slice(-4000) } });
    process.exit(0);
  }
  // No test at all: node:test never starts its reporter.
  if (registered() === 0) finish();
}

// The reporter's side: one result per test path.
export default async function* reporter(source) {
  const open = [];
  for await (const event of source) {
    const data = event.data ?? {};
    if (event.type === 'test:start') {
      open.length = data.nesting;
      open.push(data.name);
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const path = [...open.slice(0, data.nesting), data.name].join(' > ');
    if (data.skip === 'not in this batch') continue;
    let status = event.type === 'test:pass' ? 'passed' : 'failed';
    if (data.skip !== undefined || data.todo !== undefined) status = 'skipped';
    const error = data.details?.error;
    let message = '';
    if (error) {
      const cause = error.cause ?? error;
      message = String(cause?.stack ?? cause?.message ?? cause);
      if (error.failureType && error.failureType !== 'testCodeFailure') status = 'error';
    }
    results.set(path, results.has(path) ? { status: 'error', message: 'the test ran more than once' } : { status, message });
  }
  finish();
}

if (host === null && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
