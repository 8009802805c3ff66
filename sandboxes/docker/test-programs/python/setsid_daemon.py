# A2: a double-forked setsid daemon must not outlive its case. Case "spawn" starts it
# and records its pid in /tmp; case "check" looks for it.
import os, sys, time
phase = sys.stdin.read().strip()
if phase == "spawn":
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open("/tmp/daemon.pid", "w") as f:
                f.write(str(os.getpid()))
            time.sleep(600)
        os._exit(0)
    time.sleep(0.3)
    print("sandbox held" if os.path.exists("/tmp/daemon.pid") else "the daemon did not start")
else:
    try:
        pid = int(open("/tmp/daemon.pid").read())
        os.kill(pid, 0)
        print(f"escaped: daemon {pid} is still running")
    except ProcessLookupError:
        print("sandbox held")
