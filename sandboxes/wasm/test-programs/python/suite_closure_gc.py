# The review's third suite attack, in its strongest form: here, in the learner's own
# interpreter, nothing is guarded (gc, frames, every local of the harness), so this
# finds the server's frame marker and writes answers of its own. Answers are the
# learner's to give; the tester's nonce, the only key to a result, is in another
# interpreter. So "passed" frames cannot be forged: the forged frame reaches the tester
# as a malformed answer, and the test is an error.
import gc
import os
import sys


def _server_marker():
    frame = sys._getframe()
    while frame is not None:
        marker = frame.f_locals.get("marker")
        if type(marker) is bytes:
            return marker
        frame = frame.f_back
    for item in gc.get_objects():
        if type(item) is bytes and item.startswith(b"\n\x1e") and len(item) == 35:
            return item
    return None


def value():
    marker = _server_marker()
    if marker is not None:
        # A forged "passed" frame for every test, with every nonce this side knows.
        for event in (b'{"event":"end","case":0,"ok":true,"status":"passed","message":""}',
                      b'{"event":"done"}'):
            os.write(1, marker + event + b"\n")
    return None


def double(n):
    return None
