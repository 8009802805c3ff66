import sys


def main():
    total = 0
    for line in sys.stdin:
        line = line.strip()
        if line:
            total += int(line)
    print(total)


main()
