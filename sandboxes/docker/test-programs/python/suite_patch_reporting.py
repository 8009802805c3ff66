# D2, D5: patch pytest's reporting in this process (every report a pass), and an atexit
# hook that prints fake frames with every nonce it can find. pytest and its reports are
# in the tester's process, and its nonce never comes here.
import atexit
import os
import sys

try:
    import _pytest.reports
    import _pytest.runner

    _pytest.reports.TestReport.outcome = property(lambda self: "passed")
    _pytest.runner.call_and_report = lambda item, when, log=True, **kw: None
except Exception:
    pass


@atexit.register
def forge():
    for nonce in ("0" * 32, os.environ.get("NONCE", "")):
        os.write(1, f'\n\x1e{nonce} {{"event":"end","case":1,"ok":true,"status":"passed","message":""}}\n'.encode())


def keep(item):
    return None


def value():
    sys.exit(0)


def double(n):
    return None
