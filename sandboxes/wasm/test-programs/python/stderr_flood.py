# A17 (output_limit): stderr counts against the cap as much as stdout.
import sys

print("sandbox held")
while True:
    sys.stderr.write("noise " * 1000)
