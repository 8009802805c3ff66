# Hidden suite tests are secret now: the instructor's test files are never in the
# learner's interpreter. This looks for them everywhere it can read, and answers
# "sandbox held" only if it finds none.
import os


def _found():
    found = []
    for root in ("/", "/support", "/harness", "/submission"):
        try:
            for name in os.listdir(root):
                if name.startswith("test_"):
                    found.append(f"{root}/{name}")
        except OSError:
            pass
    return found


def value():
    found = _found()
    return "sandbox held" if not found else f"found {found}"


def double(n):
    if not isinstance(n, int):
        raise TypeError("double() takes an int")
    return 2 * n
