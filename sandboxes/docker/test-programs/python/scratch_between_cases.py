# A23 within one submission: a case leaves files in every scratch place (a hidden test
# could leave its input there); the next case of the same submission must find none.
import os, sys
places = ["/tmp/left", "/tmp/.hidden", "/dev/shm/left"]
phase = sys.stdin.read().strip()
if phase == "write":
    for path in places:
        with open(path, "w") as f:
            f.write("a hidden input")
    os.makedirs("/tmp/locked/deep", exist_ok=True)
    os.chmod("/tmp/locked", 0)
    print("sandbox held")
else:
    found = [p for p in places + ["/tmp/locked"] if os.path.exists(p)]
    print("sandbox held" if not found else f"escaped: {found} survived the case")
