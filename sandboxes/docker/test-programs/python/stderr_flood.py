# A17: unbounded stderr, with the right answer on stdout.
import sys
print("sandbox held", flush=True)
while True:
    sys.stderr.write("e" * 4096)
