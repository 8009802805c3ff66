# A hidden test's stdin reaches a SyntaxError raised at run time: the test's runtime
# error (its message is hidden), never the submission's compile_error.
import sys

data = sys.stdin.read()
if data:
    compile(data + " ((", "<input>", "exec")
print("sandbox held")
