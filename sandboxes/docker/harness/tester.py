"""verdict's suite tester for the Docker runner (Python): runs the instructor's test files
with pytest (which runs unittest classes too), one named test at a time, in a process of
the tester's user (uid 10003) where no learner code ever runs.

The test files import the learner's module and get a proxy of it (`proxy.py`): its code
runs in a process of the learner's user (`serve.py`), another uid, which can neither
signal, trace nor read this one, and which never sees the test files (/work/tests is
readable by the tester's group only). The host relays the two sides' messages. So pytest,
its plugins, the test files and this harness's nonce are all out of the learner's reach.

Lines come from, and frames go to, copies of fds 0 and 1 taken before pytest starts
(pytest's capture redirects them while it collects and runs tests); pytest's own report
goes nowhere.
"""
import os
import sys

sys.set_int_max_str_digits(0)
HERE = "/work/harness"
TESTS = "/work/tests"
sys.path.insert(0, HERE)

from frames import Host  # noqa: E402

# The harness's modules are imported: nothing of the learner's can take their names.
sys.path.remove(HERE)

import pytest  # noqa: E402


def name_of(item):
    """The manifest's name of a test: its pytest id without the file
    (`Class.test_name`, `test_name`, `test_x[0]`)."""
    return item.nodeid.split("::", 1)[-1].replace("::", ".")


def result_of(reports):
    """(status, message) of one test from its setup, call and teardown reports."""
    for report in reports:
        if report.failed:
            status = "failed" if report.when == "call" else "error"
            return status, report.longreprtext[-4000:]
    for report in reports:
        if report.skipped:
            return "skipped", str(report.longrepr[-1] if isinstance(report.longrepr, tuple)
                                  else report.longreprtext)[-4000:]
    return ("passed", "") if reports else ("error", "the test did not run")


class Cases:
    """A pytest plugin that runs, instead of pytest's loop, the tests the host names, one
    at a time, each between a `begin` and an `end` frame."""

    def __init__(self, host):
        self.host = host
        self.items = {}
        self.errors = []
        self.reports = []

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append(report.longreprtext)

    def pytest_collection_finish(self, session):
        for item in session.items:
            self.items[name_of(item)] = item

    def pytest_runtest_logreport(self, report):
        self.reports.append(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        host, request = self.host, self.host.request
        if self.errors:
            message = "\n".join(self.errors)[-4000:]
            host.emit({"event": "load_error", "error": {
                "type": "CollectionError", "message": message[:2000], "traceback": message}})
            return True
        host.emit({"event": "loaded"})
        for index in range(request.get("start", 0), request["count"]):
            wanted = host.line("test")
            host.emit({"event": "begin", "case": index})
            status, message = self.run(wanted)
            host.emit({"event": "end", "case": index, "ok": True, "status": status,
                       "message": message})
        return True

    def run(self, wanted):
        item = self.items.get(wanted)
        if item is None:
            matches = [item for nodeid, item in self.items.items() if item.nodeid == wanted]
            item = matches[0] if len(matches) == 1 else None
        if item is None:
            names = ", ".join(sorted(self.items)) or "none"
            return "error", f"no test matches {wanted!r}; the suite has: {names}"[:4000]
        self.reports = []
        # Each test runs alone, its fixtures set up and torn down around it.
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=None)
        return result_of(self.reports)


def main():
    # Copies of stdin and stdout: pytest's capture points fds 0 and 1 elsewhere while it
    # collects and runs tests.
    host = Host(input=os.dup(0), out=os.dup(1))
    host.line("go")
    host.emit({"event": "ready"})
    # The learner's modules resolve to proxies, before anything else on the path.
    sys.meta_path.insert(0, host.tester())
    host.emit({"event": "load"})
    quiet = open(os.devnull, "w")
    sys.stdout = quiet  # pytest's own report is not the tests' output
    files = [os.path.join(TESTS, name) for name in host.request["suite"]]
    pytest.main(["-q", "-p", "no:cacheprovider", "--rootdir", TESTS, "-W", "ignore", *files],
                plugins=[Cases(host)])
    host.emit({"event": "done"})
    os._exit(0)


main()
