# D1 (runtime_error): sys.exit(0) to fake a clean finish.
import sys


def solve():
    sys.exit(0)
