"""verdict's suite harness for the Docker runner (Python): runs the instructor's test
files with pytest (which also runs unittest classes) and hands back pytest's JUnit XML as
one frame at the end of stdout: "\n" "\x1e" <nonce> " " <json string> "\n". The nonce
comes on stdin, read before pytest or any test or learner code is imported, so it is on
no command line and in no environment.

pytest runs in the learner's process and user, like every in-sandbox framework; what
that allows is written in sandboxes/README.md ("Suite kind").
"""
import json
import os
import sys
import tempfile


def main():
    nonce, files = sys.stdin.readline().strip(), sys.argv[1:]
    sys.stdin = open(os.devnull)
    out = os.dup(1)
    handle, report = tempfile.mkstemp(prefix="junit-", suffix=".xml", dir="/tmp")
    os.close(handle)
    import pytest
    pytest.main(["-q", "-p", "no:cacheprovider", "--junitxml", report,
                 "-o", "junit_family=xunit1", *files])
    with open(report, encoding="utf-8", errors="replace") as handle:
        xml = handle.read()
    sys.stdout.flush()
    frame = ("\n\x1e" + nonce + " " + json.dumps(xml) + "\n").encode()
    while frame:
        frame = frame[os.write(out, frame):]
    os._exit(0)


if __name__ == "__main__":
    main()
