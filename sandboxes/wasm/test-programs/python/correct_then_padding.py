# A16 (output_limit): the right answer, then padding past the output cap.
import sys

print("sandbox held")
sys.stdout.write("x" * (1 << 20))
