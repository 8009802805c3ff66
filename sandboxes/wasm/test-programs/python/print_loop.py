# A15 (output_limit): a print loop.
def solve():
    while True:
        print("spam spam spam spam spam spam spam spam")
