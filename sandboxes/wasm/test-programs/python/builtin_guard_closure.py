# The review's third suite attack: the guard around `_imp.create_builtin` kept the real
# function in its closure cell, so `guard.__closure__[0].cell_contents` rebuilt `gc`,
# and with DEBUG_SAVEALL, `gc.garbage` gave frames whose `f_back` reached the harness's
# `main()`. Now no Python object holds the real function: this looks everywhere a
# function keeps state, tries the audit path with a spec whose name changes after the
# check, and the other `_imp` entry points. It returns "sandbox held" only if all fail.
import _imp
import sys


class Shifty:
    """A spec whose name is "math" when checked and "gc" when used."""

    reads = 0

    @property
    def name(self):
        Shifty.reads += 1
        return "math" if Shifty.reads == 1 else "gc"


def frames_from(gc):
    gc.set_debug(gc.DEBUG_SAVEALL)

    def cycle():
        try:
            raise ValueError
        except ValueError as error:
            error.keep = error
    cycle()
    gc.collect()
    return [item for item in gc.garbage if type(item).__name__ == "frame"]


def solve():
    guard = _imp.create_builtin
    escaped = []
    for attribute in ("__closure__", "__defaults__", "__kwdefaults__"):
        for item in getattr(guard, attribute, None) or ():
            escaped.append(f"{attribute} holds {item!r}")
    for name, value in list(getattr(guard, "__globals__", {}).items()):
        if callable(value) and getattr(value, "__name__", "") == "create_builtin" and value is not guard:
            escaped.append(f"__globals__[{name!r}] is the real create_builtin")
    for spec in (type("Spec", (), {"name": "gc"})(), Shifty()):
        made = []
        try:
            sys.audit("verdict.create_builtin", spec, made)
        except ImportError:
            pass
        if made and type(made[0]).__name__ == "module" and made[0].__name__ == "gc":
            escaped.append(f"gc built from {type(spec).__name__}: {len(frames_from(made[0]))} frames")
    try:
        _imp.create_dynamic(type("Spec", (), {"name": "gc", "origin": "gc"})())
        escaped.append("create_dynamic built a module")
    except ImportError:
        pass
    try:
        __import__("gc")
        escaped.append("import gc worked")
    except (ImportError, RuntimeError):
        pass
    return "; ".join(escaped) or "sandbox held"
