# A4 (memory_limit): one huge allocation, far past the limit.
def solve():
    block = bytearray(1024 * 1024 * 1024)
    return len(block)
