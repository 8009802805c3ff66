# A2: a double-forked setsid daemon must not outlive its case. Case "spawn" starts it;
# case "check" looks for any process of the learner's user left from the first case.
import os, sys, time

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
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
        os._exit(0)
    time.sleep(0.3)
    print("sandbox held" if survivors() else "the daemon did not start")
else:
    left = survivors()
    print("sandbox held" if not left else f"escaped: processes {left} are still running")
