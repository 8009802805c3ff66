# B4: host secrets and the Docker socket must be absent or unreadable.
import os
leaks = []
for path in ["/etc/shadow", "/proc/1/environ", "/root/.docker/config.json"]:
    try:
        open(path).read()
        leaks.append(path)
    except OSError:
        pass
for path in ["/var/run/docker.sock", "/run/docker.sock"]:
    if os.path.exists(path):
        leaks.append(path)
print("sandbox held" if not leaks else f"escaped: read {leaks}")
