# A3: the parent exits, leaving 20 sleeping children; they must be gone by the next case
# and must not hold the case open.
import os, sys, time
phase = sys.stdin.read().strip()
if phase == "spawn":
    pids = []
    for _ in range(20):
        pid = os.fork()
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        pids.append(pid)
    with open("/tmp/orphans", "w") as f:
        f.write(" ".join(map(str, pids)))
    print("sandbox held")
else:
    alive = []
    for pid in map(int, open("/tmp/orphans").read().split()):
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    print("sandbox held" if not alive else f"escaped: {len(alive)} orphans alive")
