# runtime_error: an exception escapes the function.
def solve():
    raise ValueError("the learner's bug")
