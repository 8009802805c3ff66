# A14: unbounded recursion past the interpreter's guard: the process crashes (SIGSEGV).
import sys
sys.setrecursionlimit(10**8)
def down(n):
    return down(n + 1) + 1
down(0)
