# io (runtime_error): a non-zero exit code.
import sys

print("sandbox held")
sys.exit(3)
