# A14: unbounded recursion through C code (map), past the interpreter's guard: the C
# stack overflows and the process crashes with SIGSEGV.
import sys
sys.setrecursionlimit(10**6)
def down(n):
    return list(map(down, [n + 1]))
down(0)
