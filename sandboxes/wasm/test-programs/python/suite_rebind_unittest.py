# The review's first suite attack: while the test module is half imported (it imports
# this module), rebind its global `unittest` to a fake whose TestCase has no-op
# assertions, with `__module__` and the functions' `co_filename` made to look like the
# test file's. The tests run in another interpreter: there is no test module here.
import sys
import types

fake = types.ModuleType("unittest")


class TestCase:
    def assertEqual(self, *args, **kwargs):
        pass

    def assertRaises(self, *args, **kwargs):
        import contextlib
        return contextlib.nullcontext()


for name in ("assertEqual", "assertRaises"):
    function = getattr(TestCase, name)
    function.__code__ = function.__code__.replace(co_filename="/support/test_held.py")
TestCase.__module__ = "test_held"
fake.TestCase = TestCase
for module in list(sys.modules.values()):
    if getattr(module, "__file__", "") and "test_" in str(module.__file__):
        module.unittest = fake


def value():
    return None


def double(n):
    return None
