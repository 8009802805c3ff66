# A2/A23 (second review, W3): the per-case wrapper runs as the learner, so the learner's
# program can kill it before its clean-up (`kill -KILL -1`, the /tmp wipe) runs. Case
# "spawn" starts a daemon that writes into /tmp, then kills the wrapper: that case ends
# as a runtime error (the program's own doing). Case "check" passes only if no process
# and no file of the first case is left: the host reaps the container's processes after
# every case, and the wrapper wipes /tmp before each case too.
import os, signal, sys, time

def survivors():
    mine, parent = os.getpid(), os.getppid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (mine, parent):
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                uid = next(line for line in status if line.startswith("Uid:")).split()[1]
        except (OSError, StopIteration):
            continue
        if uid == str(os.getuid()):
            found.append(int(entry))
    return found

phase = sys.stdin.read().strip()
if phase == "spawn":
    wrapper = os.getppid()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for fd in (0, 1, 2):
                os.close(fd)
            while True:
                with open("/tmp/survivor", "w") as note:
                    note.write("still here")
                time.sleep(0.05)
        os._exit(0)
    time.sleep(0.3)
    os.kill(wrapper, signal.SIGKILL)
    time.sleep(0.3)
    print("the wrapper survived")
else:
    left = survivors()
    if left:
        print(f"escaped: processes {left} are still running")
    elif os.path.exists("/tmp/survivor"):
        print("escaped: /tmp holds a file of the first case")
    else:
        print("sandbox held")
