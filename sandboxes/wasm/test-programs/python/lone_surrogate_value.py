# A returned str with a lone surrogate is not Unicode text, so no JSON parser takes it:
# the test's runtime error, never an infrastructure fault retried into internal_error.
def solve():
    return "sandbox held \ud800"
