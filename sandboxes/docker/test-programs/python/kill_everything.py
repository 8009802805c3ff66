# B9: kill -9 -1 and kill -9 1 reach only the learner's own processes: the next case
# still runs in the same container.
import os, signal, sys
phase = sys.stdin.read().strip()
if phase == "kill":
    try:
        os.kill(1, signal.SIGKILL)
    except PermissionError:
        pass
    os.kill(-1, signal.SIGKILL)
    print("sandbox held")
else:
    print("sandbox held")
