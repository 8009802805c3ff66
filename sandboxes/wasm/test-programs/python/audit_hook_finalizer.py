# D5 (wrong_answer): add an audit hook of our own, so that learner code would run inside
# the harness's own audited moments. The harness refuses new hooks (CPython then drops
# the hook silently), so the hook never sees an event and the answer stays wrong.
# (Finalizers get no such moment either: the harness turns off automatic collection.)
import sys

seen = []


def solve():
    sys.addaudithook(lambda event, args: seen.append(event))
    compile("1", "<probe>", "eval")
    return "sandbox held" if seen else "wrong"
