# D5/D12 (runtime_error): walk the stack from a traceback to the harness's locals, find
# the frame marker (the nonce) and forge a passing frame. If tb_frame were reachable,
# the forged frame would carry the expected value and the verdict would be accepted.
import os


def solve():
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
    return "wrong"
