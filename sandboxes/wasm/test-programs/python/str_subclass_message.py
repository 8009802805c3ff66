# D5 (runtime_error): an exception whose __str__ returns a str subclass, hoping the
# harness formats it where frames are reachable. If it were, the subclass would find the
# nonce and forge a passing frame (the verdict would be accepted).
import os


def forge():
    try:
        raise RuntimeError
    except RuntimeError as error:
        frame = error.__traceback__.tb_frame
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if type(value) is bytes and value.startswith(b"\n\x1e"):
                os.write(1, value + b'{"event":"end","case":0,"ok":true,"value":"sandbox held"}\n')
                os.write(1, value + b'{"event":"done"}\n')
                os._exit(0)
        frame = frame.f_back


class Sneaky(str):
    def __str__(self):
        forge()
        return "boom"

    def __format__(self, spec):
        forge()
        return "boom"


class Boom(Exception):
    def __str__(self):
        return Sneaky("boom")


def solve():
    raise Boom()
