# A5: eight processes of 24 MiB each, each under any per-process limit; the limit must
# hold for the container as a whole. The program fails when a child was killed.
import os, sys, time
pids = []
for _ in range(8):
    pid = os.fork()
    if pid == 0:
        block = bytearray(24 * 1024 * 1024)
        time.sleep(2)
        os._exit(0)
    pids.append(pid)
statuses = [os.waitpid(pid, 0)[1] for pid in pids]
if any(statuses):
    sys.exit(f"children were killed: {statuses}")
print("escaped: 192 MiB in eight processes")
