# A4 (memory_limit): a list that keeps growing.
def solve():
    hoard = []
    while True:
        hoard.append([0] * 10_000)
