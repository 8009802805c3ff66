# D6: hidden suite tests are secret: /work/tests is readable by the tester's group only.
# This answers "sandbox held" only if it can read no test file anywhere.
import glob


def _found():
    found = []
    for path in glob.glob("/work/**/test_*", recursive=True):
        try:
            with open(path) as handle:
                handle.read(1)
            found.append(path)
        except OSError:
            pass
    return found


def keep(item):
    return None


def value():
    found = _found()
    return "sandbox held" if not found else f"read {found}"


def double(n):
    if not isinstance(n, int):
        raise TypeError("double() takes an int")
    return 2 * n
