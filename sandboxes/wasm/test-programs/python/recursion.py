# A14 (runtime_error): unbounded recursion.
def solve(depth=0):
    return solve(depth + 1)
