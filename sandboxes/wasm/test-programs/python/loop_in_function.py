# A (time_limit): an infinite loop inside the called function.
def solve():
    while True:
        pass
