# 10**400 is an exact integer (it overflows a float): a wrong answer here, never an
# unreadable frame. The learner's cap on printed digits does not apply to the harness.
import sys


def solve():
    sys.set_int_max_str_digits(640)
    return 10**400 * 10**3000
