# A hidden test's stdin reaches a SyntaxError raised at run time (compile() of a
# string). That is the test's runtime error, and a hidden test shows no message; it must
# not become the submission's compile_error, whose message every learner sees.
import sys

data = sys.stdin.read()
if data:
    compile(data + " ((", "<input>", "exec")
print("sandbox held")
