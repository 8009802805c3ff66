# A (time_limit): an infinite loop while the module is imported.
while True:
    pass


def solve():
    return "sandbox held"
