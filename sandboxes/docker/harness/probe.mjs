// verdict's HTTP prober for the Docker runner (Node image); the same protocol as
// probe.py. It runs as its own user (uid 10002), out of the learner server's reach,
// and only reports what it saw: the host compares.
import http from 'node:http';
import { readFileSync } from 'node:fs';

const BODY_CAP = 256 * 1024;
const request = JSON.parse(readFileSync(0, 'utf8'));

function send(method, path, headers, body, timeoutMs) {
  return new Promise((resolve) => {
    let overdue;
    const finish = (record) => {
      clearTimeout(overdue);
      resolve(record);
    };
    const req = http.request(
      { host: '127.0.0.1', port: request.port, method, path, headers, agent: false },
      (res) => {
        const chunks = [];
        let size = 0;
        res.on('data', (chunk) => {
          if (size <= BODY_CAP) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => {
          const data = Buffer.concat(chunks);
          finish({
            status: res.statusCode,
            headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v])),
            body: data.subarray(0, BODY_CAP).toString('utf8'),
            truncated: size > BODY_CAP,
          });
        });
        res.on('error', (error) => finish({ error: String(error) }));
      },
    );
    // The whole exchange is bounded: a server that drips its answer runs out of time.
    overdue = setTimeout(() => {
      req.destroy();
      resolve({ error: 'the server did not answer in time', timeout: true });
    }, timeoutMs);
    req.on('error', (error) => finish({ error: `${error.code || 'Error'}: ${error.message}` }));
    if (body !== null && body !== undefined) req.write(body);
    req.end();
  });
}

const emit = (record) => process.stdout.write(JSON.stringify(record) + '\n');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const started = Date.now();
let last = 'nothing answered';
let ready = false;
while (!ready) {
  const answer = await send('GET', request.ready_path, {}, null, 1000);
  if (answer.status >= 200 && answer.status < 300) {
    ready = true;
    emit({ ready: true, after_ms: Date.now() - started });
  } else {
    last = answer.error || `${request.ready_path} answered ${answer.status}`;
    if (Date.now() - started > request.ready_ms) {
      emit({ ready: false, error: last });
      process.exit(0);
    }
    await sleep(20);
  }
}
for (const probe of request.probes) {
  const began = Date.now();
  const record = await send(probe.method, probe.path, probe.headers || {}, probe.body, request.probe_ms);
  record.ms = Date.now() - began;
  emit(record);
}
