# suite (accepted): the module the test file wants; proves the suite path works.
def value():
    return "sandbox held"


def double(n):
    if not isinstance(n, int):
        raise TypeError("double() takes an int")
    return 2 * n
