"""A suite tester's channel to the host (the wasm tester and the Docker runner's pytest
tester share it): frames out, lines in.

Frames: "\\n" "\\x1e" <nonce> " " <json> "\\n" on fd 1 (or a copy of it that a test
framework's output capture cannot redirect). Lines: the request,
then `{"go": true}` once the learner's side is ready, then the learner's answers as
`{"relay": "<message>"}` and each case as `{"test": name}`.
"""
import io
import json
import os
import sys

import proxy


def clean(value):
    """A frame's value with every str valid Unicode (a lone surrogate, which no JSON
    parser takes, becomes its escape)."""
    if type(value) is str:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if type(value) is dict:
        return {clean(key): clean(item) for key, item in value.items()}
    if type(value) is list:
        return [clean(item) for item in value]
    return value


class Host:
    """`input` and `out` are the file descriptors of the host's lines and of the frames:
    0 and 1, or copies of them that a test framework's capture cannot redirect."""

    def __init__(self, input=0, out=1):
        self.input = open(input, "rb", closefd=False)
        sys.stdin = io.StringIO("")  # the protocol's lines are not the tests' input
        self.out = out
        self.request = json.loads(self.input.readline())
        self.marker = b"\n\x1e" + self.request["nonce"].encode("ascii") + b" "

    def emit(self, event):
        try:
            sys.stdout.flush()
        except Exception:
            pass
        data = self.marker + json.dumps(clean(event)).encode("ascii") + b"\n"
        while data:
            data = data[os.write(self.out, data):]

    def line(self, key):
        """The next line, which must be an object with exactly the one key `key`."""
        text = self.input.readline()
        if not text:
            raise proxy.ProtocolError("the submission's side stopped answering")
        message = json.loads(text)
        if type(message) is not dict or list(message) != [key]:
            raise proxy.ProtocolError(f"expected a {key!r} line")
        return message[key]

    # The proxy's transport: a request is a `call` frame; an answer is a relayed line.
    def send(self, message):
        self.emit({"event": "call", "data": proxy.dumps(message)})

    def receive(self):
        try:
            return json.loads(self.line("relay"))
        except ValueError:
            raise proxy.ProtocolError("the submission's answer is not JSON") from None

    def tester(self):
        """The proxy's tester end, over this channel."""
        return proxy.Tester(self.send, self.receive, self.request["modules"])
