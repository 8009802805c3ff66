# D5 (runtime_error): an exception whose __str__ returns a str subclass, hoping the
# harness formats it outside the audit hook and runs the subclass's code there.
import os


class Sneaky(str):
    def __str__(self):
        os.write(1, b'\n\x1e' + b'0' * 32 + b' {"event":"end","case":0,"ok":true,"value":"sandbox held"}\n')
        return "sandbox held"

    def __format__(self, spec):
        return self.__str__()


class Boom(Exception):
    def __str__(self):
        return Sneaky("boom")


def solve():
    raise Boom()
