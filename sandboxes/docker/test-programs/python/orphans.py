# A3: the parent exits, leaving 20 sleeping children; they must be gone by the next case
# and must not hold the case open.
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
    for _ in range(20):
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
    print("sandbox held")
else:
    left = survivors()
    print("sandbox held" if not left else f"escaped: {len(left)} orphans alive")
