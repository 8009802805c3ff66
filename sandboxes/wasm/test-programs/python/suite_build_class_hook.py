# The review's second suite attack: a `builtins.__build_class__` hook that swaps the test
# class's base for a fake with no-op assertions, then removes itself. Classes built here
# are the learner's own; the test class is built in the tester's interpreter.
import builtins

_real = builtins.__build_class__


class Fake:
    def assertEqual(self, *args):
        pass

    def assertRaises(self, *args):
        import contextlib
        return contextlib.nullcontext()


def _hook(function, name, *bases, **keywords):
    if name.endswith("Test"):
        builtins.__build_class__ = _real
        return _real(function, name, Fake, **keywords)
    return _real(function, name, *bases, **keywords)


builtins.__build_class__ = _hook


def value():
    return None


def double(n):
    return None
