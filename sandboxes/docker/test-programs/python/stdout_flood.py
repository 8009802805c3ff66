# A15: unbounded stdout.
import sys
while True:
    sys.stdout.write("x" * 4096)
