# D3 (runtime_error): an object whose __eq__ is always true is not a JSON value.
class Liar(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


def solve():
    return Liar("anything")
