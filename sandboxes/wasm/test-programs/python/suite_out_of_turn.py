# Answers out of turn: before the real answer, this writes extra answers of its own
# (with the server's marker, which it can read here) claiming the values the test
# wants, hoping the tester takes them for later calls. The host relays one answer per
# request and drops the rest.
import os
import sys


def _marker():
    frame = sys._getframe()
    while frame is not None:
        if type(frame.f_locals.get("marker")) is bytes:
            return frame.f_locals["marker"]
        frame = frame.f_back
    return None


def value():
    marker = _marker()
    if marker:
        for _ in range(3):
            os.write(1, marker + b'{"answer":42}\n')
    return "sandbox held"


def double(n):
    return None
