# io (accepted): a well-behaved program, to show the io kind passes.
import sys

data = sys.stdin.read()
print("sandbox held")
