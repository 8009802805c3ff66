"""verdict's function harness for the Docker runner (Python).

Reads one JSON request from stdin -- {"nonce", "entrypoint", "function", "args"} --
imports the learner's module from /work/app, calls the function once, and writes the
returned value as the last line of stdout, in an `end` frame (src/runner/frame.rs):
"\n" "\x1e" <nonce> ' {"event":"end","case":0,"ok":true,"value":' <json> "}\n".

The host decides the verdict by comparing that value with the expected one, which never
enters the container. Learner code runs in this process, so it could print a frame of
its own; the host accepts exactly one frame, at the very end, so a forged frame can only
claim a value, which is no easier than computing it.
"""
import importlib.util
import json
import os
import sys
import traceback

APP = "/work/app/"


def plain(value, depth=0):
    """A copy made only of JSON's own types, so no learner object reaches json.dumps."""
    if depth > 100:
        raise ValueError("the value is nested too deeply")
    kind = type(value)
    if kind is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a str holds a lone surrogate (such as '\\ud800'), which is not "
                             "Unicode text") from None
        return value
    if value is None or kind in (bool, int):
        return value
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} cannot be represented in JSON")
        return value
    if kind in (list, tuple):
        return [plain(item, depth + 1) for item in value]
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise ValueError("a dict key is not a str")
            out[plain(key, depth + 1)] = plain(item, depth + 1)
        return out
    raise ValueError(
        "the value is not JSON: use list, tuple, dict (str keys), str, int, float, bool or None")


def learner_traceback(error):
    """The traceback through the learner's files only."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(APP)]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames[-40:])
    lines += traceback.format_exception_only(type(error), error)
    return "".join(lines)[-4000:]


def main():
    # Integers of any size are values (`10**400`): no cap on their digits.
    sys.set_int_max_str_digits(0)
    request = json.loads(sys.stdin.buffer.read())
    nonce, write, flush = request["nonce"], os.write, sys.stdout.flush
    sys.stdin = open(os.devnull)
    sys.path.insert(0, APP)
    entry = request["entrypoint"]
    name = entry.rsplit(".", 1)[0]
    try:
        spec = importlib.util.spec_from_file_location(name, APP + entry)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        function = getattr(module, request["function"], None)
        if not callable(function):
            sys.stderr.write(f"{entry} defines no function named {request['function']}\n")
            return 1
        result = function(*request["args"])
        try:
            value = plain(result)
        except ValueError as problem:
            sys.stderr.write(f"TypeError: the return value: {problem}\n")
            return 1
        sys.set_int_max_str_digits(0)  # learner code may have set a cap
        value = json.dumps(value, allow_nan=False)
    except SystemExit as error:
        sys.stderr.write(f"the program called exit({error.code!r}) instead of returning\n")
        return 1
    except BaseException as error:
        sys.stderr.write(learner_traceback(error))
        return 1
    try:
        flush()
    except BaseException:
        pass
    body = '{"event":"end","case":0,"ok":true,"value":' + value + "}"
    frame = ("\n\x1e" + nonce + " " + body + "\n").encode()
    while frame:
        frame = frame[write(1, frame):]
    return 0


if __name__ == "__main__":
    os._exit(main())
