# A11 (time_limit): a blocking sleep outlasts the wall limit (2 s here). It sleeps 5 s,
# less than the interpreter's start-up allowance (wall + 20 s): a host that waited on the
# start-up deadline instead of the case's would let it finish and accept it.
import time


def solve():
    time.sleep(5)
    return "sandbox held"
