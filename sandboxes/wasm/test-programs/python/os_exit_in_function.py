# D1 (runtime_error): os._exit(0) ends the interpreter in the middle of the call.
import os


def solve():
    os._exit(0)
