// verdict's suite server (JavaScript): the learner's end of the proxy protocol
// (proxy.mjs). It runs as the learner's user, imports the learner's modules when the
// tests ask for them and answers every request by running the learner's code. No test
// file is ever readable here, and nothing here is trusted: whatever it answers is the
// learner's answer, which the tester checks.
//
// stdin: one request line {nonce, app, modules}, then one message per line, relayed by
// the host from the tester. stdout: the learner's own output, and this side's frames,
// "\n" "\x1e" <nonce> " " <payload> "\n": first `ready`, then one answer per message.
import { Learner, lineReader, writeAll } from './proxy.mjs';

const readLine = lineReader(0);
const request = JSON.parse(readLine());
const marker = `\n\x1e${request.nonce} `;
const frame = (payload) => writeAll(1, `${marker}${payload}\n`);
const receive = () => {
  const line = readLine();
  return line === null ? null : JSON.parse(line);
};
const learner = new Learner((message) => frame(JSON.stringify(message)), receive, request.app);
frame('ready');
for (;;) {
  const message = receive();
  if (message === null) break;
  let text;
  try {
    text = JSON.stringify(await learner.serve(message));
  } catch (error) {
    text = JSON.stringify({ raise: { builtin: 'Error', message: `the answer could not be written: ${error?.message}` } });
  }
  frame(text);
}
process.exit(0);
