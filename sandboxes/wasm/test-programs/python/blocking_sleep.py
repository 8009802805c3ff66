# A11 (time_limit): a blocking sleep outlasts the wall limit.
import time


def solve():
    time.sleep(3600)
    return "sandbox held"
