# A1: fork until something stops us. The pids limit must stop it well before 1000.
import os, sys, time
children = 0
try:
    for _ in range(1000):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError:
    pass
print("sandbox held" if children < 100 else f"escaped: {children} processes")
