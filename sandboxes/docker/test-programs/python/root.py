# B8: not root, and no way to become root (setuid, setuid binaries under no-new-privileges).
import os, subprocess
problems = []
if os.getuid() == 0 or os.geteuid() == 0:
    problems.append("runs as root")
try:
    os.setuid(0)
    problems.append("setuid(0) worked")
except PermissionError:
    pass
for program in ["/usr/bin/su", "/bin/su", "/usr/bin/newgrp"]:
    if os.path.exists(program):
        result = subprocess.run([program, "-c", "id -u"], capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=5)
        if result.stdout.strip() == "0":
            problems.append(f"{program} gave root")
print("sandbox held" if not problems else f"escaped: {problems}")
