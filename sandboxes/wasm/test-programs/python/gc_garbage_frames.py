# D12 (runtime_error): fish a frame out of gc.garbage (DEBUG_SAVEALL) and walk f_back
# up to the harness to read its nonce. `gc` cannot be imported, nor rebuilt with _imp.
import importlib.machinery
import _imp


def solve():
    try:
        import gc
    except RuntimeError:
        gc = _imp.create_builtin(importlib.machinery.ModuleSpec("gc", None))
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    return "sandbox held" if gc.garbage else "wrong"
