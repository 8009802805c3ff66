# float(25!) is not the exact integer 25! (expected_json): a float never passes for an
# integer without a tolerance.
import math


def solve():
    return float(math.factorial(25))
