# suite (accepted): the module the tests want.
def keep(item):
    return None


def value():
    return "sandbox held"


def double(n):
    if not isinstance(n, int):
        raise TypeError("double() takes an int")
    return 2 * n
