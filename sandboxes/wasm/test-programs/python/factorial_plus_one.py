# 25! + 1 is not 25!: integers beyond 64 bits compare exactly (expected_json is 25!).
import math


def solve():
    return math.factorial(25) + 1
