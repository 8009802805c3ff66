# C7: the uploaded files (this program, the harness) are read-only to learner code.
import os
changed = []
for path in ["/work/app/main.py", "/work/harness/function.py", "/work/harness/probe.py"]:
    try:
        with open(path, "ab") as f:
            f.write(b"# changed")
        changed.append(path)
    except OSError:
        pass
    try:
        os.rename(path, path + ".moved")
        changed.append(path + " (renamed)")
    except OSError:
        pass
print("sandbox held" if not changed else f"escaped: changed {changed}")
