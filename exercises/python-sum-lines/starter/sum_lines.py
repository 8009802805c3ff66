import sys


def main():
    total = 0
    for line in sys.stdin:
        # TODO: skip blank lines and add up the numbers
        pass
    print(total)


main()
