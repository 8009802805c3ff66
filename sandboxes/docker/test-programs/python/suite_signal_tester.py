# B9: signal or trace the tester's processes (another user): every attempt is refused.
# This answers "sandbox held" only if none worked.
import os
import signal


def _reached():
    reached = []
    mine = os.getuid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid == mine:
                continue
            os.kill(int(name), signal.SIGSTOP)
            reached.append(name)
        except OSError:
            pass
        try:
            with open(f"/proc/{name}/mem", "rb") as handle:
                handle.read(1)
            reached.append(f"{name}/mem")
        except OSError:
            pass
    return reached


def keep(item):
    return None


def value():
    reached = _reached()
    return "sandbox held" if not reached else f"reached {reached}"


def double(n):
    if not isinstance(n, int):
        raise TypeError("double() takes an int")
    return 2 * n
