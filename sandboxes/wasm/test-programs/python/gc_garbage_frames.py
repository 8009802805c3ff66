# D12 (runtime_error): fish a frame out of gc.garbage (DEBUG_SAVEALL) and walk f_back up
# to the harness's locals to forge a passing frame. `gc` cannot be imported, nor rebuilt
# with _imp.create_builtin; if it could, the verdict would be accepted.
import importlib.machinery
import os

import _imp


def victim():
    try:
        raise Exception
    except Exception as error:
        keep = error  # a cycle: error -> traceback -> frame -> keep
        return keep is not None


def solve():
    try:
        import gc
    except RuntimeError:
        gc = _imp.create_builtin(importlib.machinery.ModuleSpec("gc", None))
    victim()
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    frames = [item for item in gc.garbage if type(item).__name__ == "frame"]
    frame = frames[0] if frames else None
    while frame is not None:
        marker = frame.f_locals.get("marker")
        if type(marker) is bytes:
            os.write(1, marker + b'{"event":"end","case":0,"ok":true,"value":"sandbox held"}\n')
            os.write(1, marker + b'{"event":"done"}\n')
            os._exit(0)
        frame = frame.f_back
    return "wrong"
