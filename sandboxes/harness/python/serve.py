"""verdict's suite server: the learner's end of the proxy protocol (`proxy.py`).

It runs in the learner's own interpreter (a wasm instance of its own, or a process of the
learner's user in the Docker runner), imports the learner's modules when the tests ask
for them, and answers every request by running the learner's code. No test and no test
file is ever here, and nothing here is trusted: whatever it answers is simply the
learner's answer, which the tester checks.

stdin: one request line {"nonce", "app", "modules"}, then one message per line, relayed
by the host from the tester. stdout: the learner's own output, and this side's frames,
"\\n" "\\x1e" <nonce> " " <payload> "\\n": first `ready`, then one answer per message.
"""
import io
import os
import sys

sys.set_int_max_str_digits(0)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import json  # noqa: E402
import proxy  # noqa: E402


def main():
    host = sys.stdin.buffer
    request = json.loads(host.readline())
    marker = b"\n\x1e" + request["nonce"].encode("ascii") + b" "
    app = request["app"]
    sys.path[0] = app.rstrip("/")
    # The learner's code reads an empty stdin: the protocol's lines are not its input.
    sys.stdin = io.TextIOWrapper(io.BytesIO(b""))
    write, flush = os.write, sys.stdout.flush

    def frame(payload):
        try:
            flush()
        except BaseException:
            pass
        payload = marker + payload + b"\n"
        while payload:
            payload = payload[write(1, payload):]

    def send(message):
        try:
            sys.set_int_max_str_digits(0)  # the learner's code may have set a cap
            text = proxy.dumps(message)
        except Exception as problem:
            text = proxy.dumps({"raise": {"builtin": "ValueError", "args": [
                f"the answer could not be written: {type(problem).__name__}: {problem}"]}})
        frame(text.encode("ascii"))

    def receive():
        line = host.readline()
        return json.loads(line) if line else None

    frame(b"ready")
    proxy.Learner(send, receive, app).serve_forever()


main()
