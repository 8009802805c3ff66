# D5/D12 (runtime_error): walk the stack and the heap to find the harness's secret.
import gc
import sys


def solve():
    try:
        raise RuntimeError
    except RuntimeError as error:
        frame = error.__traceback__.tb_frame
    while frame is not None:
        for value in frame.f_locals.values():
            if isinstance(value, bytes) and value.startswith(b"\n\x1e"):
                sys.stdout.buffer.write(value + b'{"event":"end","case":0,"ok":true,"value":"sandbox held"}\n')
        frame = frame.f_back
    gc.get_objects()
    return "wrong"
