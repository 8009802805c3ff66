# compile_error: a syntax error.
def solve(:
    return "sandbox held"
