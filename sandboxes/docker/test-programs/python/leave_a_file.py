# A23: the "write" submission leaves files everywhere it can; the "check" submission,
# in a fresh container, must find none of them.
import os, sys
places = ["/tmp/left", "/dev/shm/left", "/var/tmp/left", "/work/app/left", "/work/left"]
phase = sys.stdin.read().strip()
if phase == "write":
    for path in places:
        try:
            with open(path, "w") as f:
                f.write("left behind")
        except OSError:
            pass
    print("sandbox held")
else:
    found = [path for path in places if os.path.exists(path)]
    print("sandbox held" if not found else f"escaped: {found} survived")
