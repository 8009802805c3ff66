# One interpreter runs every io case of a submission. The hidden test's stdin is kept in
# builtins and printed by the visible test, whose output the learner sees, if the hidden
# test ran first. Visible tests run before hidden ones.
import builtins
import sys

data = sys.stdin.read()
if data:
    builtins._stash = data
    print("sandbox held")
else:
    print(getattr(builtins, "_stash", "sandbox held"))
