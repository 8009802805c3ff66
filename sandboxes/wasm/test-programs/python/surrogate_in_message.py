# An exception whose message holds a lone surrogate: the test's runtime error, with the
# message escaped, never an unreadable frame.
def solve():
    raise ValueError("no \udc80 here")
