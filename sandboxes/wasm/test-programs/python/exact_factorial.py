# 25!, exactly: accepted against the exact expected value.
import math


def solve():
    return math.factorial(25)
