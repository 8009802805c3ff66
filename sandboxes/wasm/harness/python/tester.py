"""verdict's suite tester (wasm): runs the instructor's unittest files in an interpreter
where no learner code ever runs, and reports each named test's result to the host.

The test files import the learner's module as usual and get a proxy of it
(`proxy.py`): every use of the learner's code is a message to the learner's own
instance, relayed by the host, which answers with values. So whether a test passes is
decided here, by the instructor's assertions, the real unittest and values that are
data, and nothing the learner's code does can reach this interpreter: not unittest, not
the test classes, not this harness or its nonce.

stdin: the request line, a `go` line (sent once the learner's interpreter is ready), then
the learner's answers, each as `{"relay": "<message>"}`, and each case's `{"test": name}`
line (the first after the `loaded` frame, the next after the case before it ended). Frames on fd 1, as the other kinds:
"\\n" "\\x1e" <nonce> " " <json> "\\n".
"""
import sys

sys.set_int_max_str_digits(0)
sys.path.insert(0, "/harness")

import importlib.util  # noqa: E402
import traceback  # noqa: E402
import unittest  # noqa: E402

from frames import Host  # noqa: E402

SUPPORT = "/support/"


def describe(error):
    """A traceback through the test files only (the proxy's and unittest's own frames are
    not the instructor's), with the submission's traceback as a note."""
    exception = traceback.TracebackException.from_exception(error)
    frames = [frame for frame in exception.stack if frame.filename.startswith(SUPPORT)]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames) if frames else []
    lines += list(exception.format_exception_only())
    return "".join(lines)[-4000:]


def syntax_error(sources):
    """The first learner file that does not parse, described; it is never run here."""
    for path in sources:
        try:
            with open(path, "rb") as handle:
                compile(handle.read(), path, "exec", dont_inherit=True)
        except SyntaxError as error:
            location = f'  File "{error.filename}", line {error.lineno}\n'
            text = f"    {error.text.strip()}\n" if error.text and error.text.strip() else ""
            return f"{location}{text}{type(error).__name__}: {error.msg}"
        except (OSError, ValueError) as error:
            return f"cannot read {path}: {error}"
    return None


class Recorder(unittest.TestResult):
    """The first thing that went wrong in one test."""

    def __init__(self):
        super().__init__()
        self.outcome = None

    def first(self, status, detail):
        if self.outcome is None:
            self.outcome = (status, detail)

    def addError(self, test, err):
        self.first("error", err)

    def addFailure(self, test, err):
        self.first("failed", err)

    def addSkip(self, test, reason):
        self.first("skipped", reason)

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self.first("failed" if issubclass(err[0], test.failureException) else "error", err)

    def addUnexpectedSuccess(self, test):
        self.first("failed", "the test is marked as an expected failure, but it passed")

    def result(self):
        if self.outcome is None:
            return "passed", ""
        status, detail = self.outcome
        if type(detail) is tuple:
            return status, describe(detail[1])
        return status, str(detail)


def load(host, paths):
    """Imports the test files; their tests by id (`module.Class.test`)."""
    tests = {}
    loader = unittest.TestLoader()
    for path in paths:
        name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        pending = [loader.loadTestsFromModule(module)]
        while pending:
            for item in pending.pop():
                if isinstance(item, unittest.TestSuite):
                    pending.append(item)
                else:
                    tests[item.id()] = item
    return tests


class Fixtures:
    """setUpModule / setUpClass once, before a module's or a class's first test, and
    their teardowns at the end, as unittest's own runner does."""

    def __init__(self):
        self.ready = {}  # a module or class -> its set-up error (None: it worked)

    def set_up(self, test):
        for owner, method in ((sys.modules.get(type(test).__module__), "setUpModule"),
                              (type(test), "setUpClass")):
            if owner not in self.ready:
                try:
                    getattr(owner, method, lambda: None)()
                    self.ready[owner] = None
                except Exception as error:
                    self.ready[owner] = f"{method} failed:\n{describe(error)}"
            if self.ready[owner] is not None:
                return self.ready[owner]
        return None

    def tear_down(self):
        for owner, error in reversed(list(self.ready.items())):
            method = "tearDownClass" if isinstance(owner, type) else "tearDownModule"
            if error is None:
                try:
                    getattr(owner, method, lambda: None)()
                except Exception:
                    pass


def run_case(tests, wanted, fixtures):
    """(status, message) of the test the manifest names `wanted`."""
    matches = [test_id for test_id in tests if test_id == wanted or test_id.endswith("." + wanted)]
    if len(matches) != 1:
        problem = "no test" if not matches else "more than one test"
        return "error", f"{problem} matches {wanted!r}; the suite has: {', '.join(sorted(tests)) or 'none'}"
    test = tests[matches[0]]
    setup_error = fixtures.set_up(test)
    if setup_error is not None:
        return "error", setup_error
    recorder = Recorder()
    test(recorder)
    return recorder.result()


def main():
    host = Host()
    request = host.request
    host.line("go")
    host.emit({"event": "ready"})
    problem = syntax_error(request["sources"])
    if problem is not None:
        host.emit({"event": "compile_error", "message": problem})
        return
    # The learner's modules resolve to proxies, before anything else on the path.
    sys.meta_path.insert(0, host.tester())
    sys.path[0] = SUPPORT.rstrip("/")
    host.emit({"event": "load"})
    try:
        tests = load(host, request["suite"])
    except Exception as error:
        message = describe(error)
        host.emit({"event": "load_error", "error": {
            "type": type(error).__name__, "message": str(error)[:2000], "traceback": message}})
        return
    host.emit({"event": "loaded"})
    fixtures = Fixtures()
    for index in range(request.get("start", 0), request["count"]):
        wanted = host.line("test")
        host.emit({"event": "begin", "case": index})
        status, message = run_case(tests, wanted, fixtures)
        host.emit({"event": "end", "case": index, "ok": True, "status": status,
                   "message": message[-4000:]})
    fixtures.tear_down()
    host.emit({"event": "done"})


main()
