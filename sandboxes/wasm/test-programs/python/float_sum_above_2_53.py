# A float sum near 2**53 + 1 (expected_json) is not that exact integer.
def solve():
    return float(2**53) + 1.0
