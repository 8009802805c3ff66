"""verdict's Python harness: runs learner code inside CPython for WASI and reports
observations to the host. It never sees expected values and never decides a verdict.

The host writes one JSON request line on stdin: a fresh random nonce, the kind, the
entrypoint and the number of cases. Each case's input follows on a line of its own, and
only once the case before it has ended: no input is in the sandbox before its case. Every
report is a frame on fd 1:

    "\\n" "\\x1e" <nonce> " " <json> "\\n"

Learner output goes to the same fd 1 unchanged; the host splits the stream at frames, so
what the learner printed between `begin i` and `end i` is case i's output.

Two rules keep the channel unforgeable (sandboxes/README.md, "The result channel"):
- secrets (the nonce, the harness's functions) live only in local variables, and an
  audit hook, which cannot be removed and is armed before any learner code exists,
  refuses every way to reach a frame or walk the heap, for the whole run;
- the harness uses references taken at start-up and exact builtin types, so learner
  changes to modules and builtins cannot change what it writes.
"""


def main():
    import builtins
    import io
    import os
    import sys
    from _json import encode_basestring_ascii as quote

    # References taken before any learner code exists.
    write = os.write
    exc_info = sys.exc_info
    type_, str_, int_, float_, list_, tuple_, dict_, bool_ = (
        type, str, int, float, list, tuple, dict, bool)
    len_, range_, repr_, open_, compile_, exec_ = len, range, repr, open, compile, exec
    BaseException_, SystemExit_, SyntaxError_ = BaseException, SystemExit, SyntaxError
    real_stdout_flush = sys.__stdout__.flush
    float_repr = float.__repr__
    int_repr = int.__repr__
    # Integers of any size are values (`10**400`, `30!`): no cap on their digits.
    int_digits = sys.set_int_max_str_digits
    int_digits(0)
    join = "".join
    RuntimeError_ = RuntimeError
    # `types` reads a traceback's frame when it is first imported (and `enum`, `re`,
    # `json`, `dataclasses` import it), which the audit hook would refuse: import it
    # before the hook exists.
    import types

    traceback_type = types.TracebackType
    syntax_errors = (SyntaxError, IndentationError, TabError)

    # The request is JSON written by the host (serde_json), which is also a Python
    # expression once true, false and null are names: evaluating it needs no import
    # (importing `json` costs ~80 ms in this interpreter, a third of a run).
    host_input = sys.stdin.buffer
    literals = {"true": True, "false": False, "null": None}

    def read_line():
        line = host_input.readline().decode("utf-8")
        return eval(line, {"__builtins__": {}}, literals)

    request = read_line()
    marker = b"\n\x1e" + request.pop("nonce").encode("ascii") + b" "
    kind = request["kind"]
    entrypoint = request["entrypoint"]
    start = request.get("start", 0)
    count = request["count"]

    def cases():
        """(index, input) of every case from `start`; each input is read when its turn
        comes (the host sends it once the case before has ended)."""
        for index in range_(start, count):
            yield index, read_line()
    allow_frame = [False]  # set only around describe()'s read of tb.tb_frame

    def text(value):
        """A str that is valid Unicode: a lone surrogate (which no JSON parser accepts)
        becomes its escape, `\\ud800`. For messages; values refuse them (`plain`)."""
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")

    def encode(value):
        """JSON text of a plain value (see `plain`), without the json module's globals."""
        t = type_(value)
        if value is None:
            return "null"
        if t is bool_:
            return "true" if value else "false"
        if t is int_:
            int_digits(0)  # learner code may have set a cap
            return int_repr(value)
        if t is float_:
            return float_repr(value)
        if t is str_:
            return quote(text(value))
        if t is list_:
            return "[" + ",".join([encode(item) for item in value]) + "]"
        return "{" + ",".join([quote(text(k)) + ":" + encode(v) for k, v in value.items()]) + "}"

    def emit(event):
        try:
            real_stdout_flush()
        except BaseException_:
            pass
        try:
            body = encode(event)
        except BaseException_ as problem:
            # Whatever the learner returned, the frame is written: a value that cannot be
            # is the case's error.
            why = f"the result could not be written: {type_(problem).__name__}"
            body = encode({"event": event.get("event"), "case": event.get("case"), "ok": False,
                           "error": {"type": "ValueError", "message": why, "traceback": why}})
        write(1, marker + body.encode("ascii") + b"\n")

    blocked_events = frozenset([
        "sys._getframe", "sys._current_frames", "sys._current_exceptions",
        "sys.settrace", "sys.setprofile", "sys.monitoring.register_callback", "sys.addaudithook",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    ])
    frame_attributes = frozenset(["tb_frame", "gi_frame", "cr_frame", "ag_frame"])

    # Modules that hand out frames or raw objects without an audit event: `gc` (with
    # DEBUG_SAVEALL, collected frames land in gc.garbage, and f_back leads to main), and
    # the test and subinterpreter C modules. Learner code cannot import them, and no
    # fresh copy can be built (`builtin_module` below).
    forbidden_modules = frozenset([
        "gc", "_testcapi", "_testinternalcapi", "_testmultiphase", "_xxsubinterpreters",
        "_xxinterpchannels", "_ctypes", "ctypes",
    ])
    import _imp
    create_builtin = _imp.create_builtin
    Spec = types.SimpleNamespace
    list_ = list

    def builtin_module(args):
        """Builds a built-in module for `create_builtin` below. The real
        `_imp.create_builtin` lives only here, in the audit hook's closure, which nothing
        in Python can reach (no object refers to the hook). The name is read once, must
        be an exact str, and goes to a spec of our own, so it cannot change between the
        check and the build."""
        if len_(args) != 2 or type_(args[1]) is not list_:
            return
        name = args[0].name
        if type_(name) is not str_ or name in forbidden_modules:
            raise ImportError(f"the grader does not allow importing {name!r}")
        args[1].append(create_builtin(Spec(name=name)))

    def audit(event, args):
        if event == "verdict.create_builtin":
            return builtin_module(args)
        if event == "object.__getattr__" and len_(args) > 1 and args[1] in frame_attributes:
            if allow_frame[0] and args[1] == "tb_frame":
                return
            raise RuntimeError_("the grader does not allow access to stack frames")
        if event == "object.__setattr__" and len_(args) > 1 and args[1] == "__code__":
            raise RuntimeError_("the grader does not allow replacing code objects")
        if event == "import" and args and (type_(args[0]) is not str_ or args[0] in forbidden_modules):
            raise RuntimeError_(f"the grader does not allow importing {args[0]}")
        if event in blocked_events:
            raise RuntimeError_(f"the grader does not allow {event}")

    # Modules the harness needs are imported before learner code could shadow them.
    if kind == "sql":
        import binascii
        import sqlite3
    import gc

    # No automatic cyclic collection: it would run learner finalizers (`__del__`,
    # weakref callbacks) at whatever point of the harness an allocation happened to be.
    gc.disable()
    # The hook is armed from here to the end, for harness and learner code alike: no
    # "trusted" state exists that learner code could run in. The harness's one need, the
    # frames of a traceback it formats, is a token set around that single attribute read.
    sys.addaudithook(audit)
    # Importing a built-in module goes through a function with no closure, defaults or
    # state of its own: the real one is out of reach (see `builtin_module`).
    _imp.create_builtin = create_builtin_for_learners
    _imp.create_dynamic = refuse_dynamic
    sys.modules.pop("gc", None)
    del gc
    # The audit hook also refuses sys._getframe, which `logging` calls for every record;
    # a stub that answers "no frame" (as on interpreters without frames) keeps logging and
    # `inspect.currentframe()` working, and the real function is gone for good.
    sys._getframe = lambda depth=0: None

    def untrusted(call, *args):
        """Marks a call into learner-reachable code (the hook is armed throughout)."""
        return call(*args)

    def plain(value, depth=0):
        """A copy made only of JSON's own exact types: no subclass, no custom __eq__."""
        if depth > 100:
            raise ValueError("the value is nested too deeply")
        t = type_(value)
        if t is str_:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("a str holds a lone surrogate (such as '\\ud800'), which is not "
                                 "Unicode text") from None
            return value
        if value is None or t is bool_ or t is int_:
            return value
        if t is float_:
            if value != value or value in (float_("inf"), float_("-inf")):
                raise ValueError(f"{float_repr(value)} cannot be represented in JSON")
            return value
        if t is list_ or t is tuple_:
            return [plain(item, depth + 1) for item in value]
        if t is dict_:
            out = {}
            for key, item in value.items():
                if type_(key) is not str_:
                    raise ValueError("a dict key is not a str")
                out[plain(key, depth + 1)] = plain(item, depth + 1)
            return out
        raise ValueError(
            "the value is not JSON: use list, tuple, dict (str keys), str, int, float, bool or None")

    sources = {}

    def source_line(filename, lineno):
        if not filename.startswith("/submission/"):
            return ""
        if filename not in sources:
            try:
                with open_(filename, "r", encoding="utf-8", errors="replace") as handle:
                    sources[filename] = handle.read().splitlines()
            except BaseException_:
                sources[filename] = []
        lines = sources[filename]
        return lines[lineno - 1].strip() if 0 < lineno <= len_(lines) else ""

    def describe(error, tb):
        """Type, message and the traceback through learner files only. Everything taken
        from the exception runs learner code (`__str__`, a metaclass, properties), so it
        is taken with the hook armed, and only exact `str` and `int` values are kept."""
        def text():
            kind = type_(error)
            fields = (None, None, None, None)
            if kind in syntax_errors:
                fields = (error.filename, error.lineno, error.text, error.msg)
            return kind.__name__, str_(error), fields
        try:
            name, message, fields = untrusted(text)
        except BaseException_:
            name, message, fields = None, None, (None, None, None, None)
        name = name if type_(name) is str_ else "Exception"
        message = message if type_(message) is str_ else "(the exception could not be printed)"
        frames = []
        while type_(tb) is traceback_type:
            allow_frame[0] = True
            try:
                frame = tb.tb_frame
            finally:
                allow_frame[0] = False
            code = frame.f_code
            filename, function = code.co_filename, code.co_name
            if type_(filename) is str_ and type_(function) is str_ and (
                    filename.startswith("/submission/")):
                frames.append(f'  File "{filename}", line {tb.tb_lineno}, in {function}')
                line = source_line(filename, tb.tb_lineno)
                if line:
                    frames.append("    " + line)
            tb = tb.tb_next
        filename, lineno, source, msg = fields
        if type_(filename) is str_ and type_(lineno) is int_:
            frames.append(f'  File "{filename}", line {lineno}')
            if type_(source) is str_ and source.strip():
                frames.append("    " + source.strip())
            if type_(msg) is str_:
                message = msg
        lines = ["Traceback (most recent call last):"] if frames else []
        body = "\n".join(lines + frames[-40:] + [f"{name}: {message}" if message else name])
        return {"type": name[:200], "message": message[:2000], "traceback": body[-4000:]}

    def error_event(index, error, tb):
        return {"event": "end", "case": index, "ok": False, "error": describe(error, tb)}

    def read_source(path):
        with open_(path, "rb") as handle:
            return handle.read()

    def compiled(path):
        """Compiles a learner file; a syntax error is reported and ends the run."""
        try:
            return compile_(read_source(path), path, "exec", dont_inherit=True)
        except SyntaxError_ as error:
            emit({"event": "compile_error", "message": describe(error, None)["traceback"]})
        except (OSError, ValueError) as error:
            emit({"event": "compile_error", "message": f"cannot read {path}: {error}"})
        return None

    def not_a_query(statement):
        """Why `statement` is not one read-only query (SELECT, or WITH … SELECT), or None."""
        text = statement
        while True:
            text = text.lstrip()
            if text.startswith("--"):
                text = text.partition("\n")[2]
            elif text.startswith("/*"):
                text = text.partition("*/")[2]
            else:
                break
        word = ""
        for char in text:
            if not (char.isalpha() or char == "_"):
                break
            word += char
        if word.upper() in ("SELECT", "WITH"):
            return None
        shown = word.upper() or text[:20]
        return (f"only a query is graded: the file must hold one SELECT (or WITH ... SELECT) "
                f"statement, and this one is {shown!r}, which could change the database")

    def read_only_authorizer(action, *details):
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                      sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    # `-S` skips the site module (~15 ms); these are the two helpers it would add.
    def exit(code=None):
        raise SystemExit_(code)

    builtins.exit = builtins.quit = exit
    sys.path[:] = ["/submission"] + [p for p in sys.path if p.startswith("/usr")]
    sys.argv = [entrypoint]
    emit({"event": "ready"})

    if kind == "io":
        code = compiled(entrypoint)
        if code is None:
            return
        for index, case in cases():
            data = case["stdin"].encode("utf-8")
            sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
            scope = {"__name__": "__main__", "__file__": entrypoint, "__builtins__": builtins}
            emit({"event": "begin", "case": index})
            event = {"event": "end", "case": index, "ok": True, "exit": 0}
            try:
                untrusted(exec_, code, scope)
            except SystemExit_ as stop:
                def exit_code():
                    value = stop.code
                    if value is None or type_(value) is int_:
                        return value or 0
                    sys.stderr.write(str_(value) + "\n")
                    return 1
                try:
                    event["exit"] = int_(untrusted(exit_code))
                except BaseException_:
                    event["exit"] = 1
            except BaseException_ as error:
                event = error_event(index, error, exc_info()[2])
            try:
                untrusted(lambda: sys.stdout.flush())
            except BaseException_:
                pass
            emit(event)
        emit({"event": "done"})
        return

    if kind == "sql":
        try:
            query = read_source(entrypoint).decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            emit({"event": "compile_error", "message": f"cannot read the query: {error}"})
            return
        statement = query.strip()
        if not statement or not sqlite3.complete_statement(statement.rstrip(";") + ";"):
            emit({"event": "compile_error", "message": "the file is not one complete SQL statement"})
            return
        refused = not_a_query(statement)
        for index, case in cases():
            connection = sqlite3.connect(":memory:")
            try:
                connection.executescript(request["schema"])
                connection.executescript(case.get("seed", ""))
            except sqlite3.Error as failure:
                emit({"event": "fault", "message": f"the test's schema or seed failed: {failure}"})
                return
            # The learner's statement only reads: the database refuses writes, and the
            # authorizer refuses every action but reading (PRAGMA, ATTACH, DDL, DML).
            connection.execute("PRAGMA query_only = ON")
            connection.set_authorizer(read_only_authorizer)
            emit({"event": "begin", "case": index})
            if refused:
                emit({"event": "end", "case": index, "ok": False, "error": {
                    "type": "NotAQuery", "message": refused, "traceback": refused}})
                connection.close()
                continue
            try:
                rows = []
                for row in connection.execute(statement):
                    rows.append([
                        binascii.b2a_base64(item, newline=False).decode("ascii")
                        if type_(item) is bytes else item
                        for item in row
                    ])
                event = {"event": "end", "case": index, "ok": True, "value": plain(rows)}
            except sqlite3.Error as failure:
                message = f"{type_(failure).__name__}: {failure}"
                event = {"event": "end", "case": index, "ok": False,
                         "error": {"type": type_(failure).__name__, "message": str_(failure),
                                   "traceback": message}}
            connection.close()
            emit(event)
        emit({"event": "done"})
        return

    if kind == "function":
        name = request["function"]
        code = compiled(entrypoint)
        if code is None:
            return
        module_name = entrypoint.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        module = type_(sys)(module_name)
        module.__file__ = entrypoint
        sys.modules[module_name] = module
        namespace = module.__dict__
        emit({"event": "load"})
        try:
            untrusted(exec_, code, namespace)
        except BaseException_ as error:
            emit({"event": "load_error", "error": describe(error, exc_info()[2])})
            return
        function = namespace.get(name)
        if function is None or not untrusted(callable, function):
            emit({"event": "load_error", "error": {
                "type": "NameError",
                "message": f"{entrypoint.rsplit('/', 1)[-1]} defines no function named {name!r}",
                "traceback": f"NameError: no top-level function named {name!r}"}})
            return
        for index, case in cases():
            args = case["args"]
            emit({"event": "begin", "case": index})
            try:
                result = untrusted(function, *args)
                try:
                    event = {"event": "end", "case": index, "ok": True, "value": plain(result)}
                except ValueError as problem:
                    event = {"event": "end", "case": index, "ok": False, "error": {
                        "type": "TypeError", "message": f"the return value: {problem}",
                        "traceback": f"the return value: {problem}"}}
            except SystemExit_:
                event = {"event": "end", "case": index, "ok": False, "error": {
                    "type": "SystemExit", "message": "the function called sys.exit()",
                    "traceback": "SystemExit: the function called sys.exit()"}}
            except BaseException_ as error:
                event = error_event(index, error, exc_info()[2])
            emit(event)
        emit({"event": "done"})
        return

    emit({"event": "fault", "message": f"unknown kind {kind!r}"})


def create_builtin_for_learners(spec):
    """`_imp.create_builtin` while learner code runs: asks the harness's audit hook, which
    alone holds the real function, to build the module (or to refuse it)."""
    made = []
    sys.audit("verdict.create_builtin", spec, made)
    if not made:
        raise ImportError(f"cannot import built-in module {spec.name!r} here")
    return made[0]


def refuse_dynamic(*args):
    """`_imp.create_dynamic`: this interpreter loads no extension modules."""
    raise ImportError("extension modules cannot be loaded here")


import sys  # noqa: E402  (the two functions above look it up when called)

main()
