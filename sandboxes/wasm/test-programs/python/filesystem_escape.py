# B4/B13/D6 (accepted only if the sandbox holds): look for the host, the tests and the
# reference solution through every path a learner could try.
import os


def solve():
    found = []
    for path in ["/", "..", "../..", "/submission/..", "/support", "/harness/..", "/etc", "/proc", "/tmp"]:
        try:
            found += [f"{path}: {name}" for name in os.listdir(path)]
        except OSError:
            pass
    for path in ["/etc/passwd", "../etc/passwd", "/submission/../../etc/passwd",
                 "/proc/self/environ", "/submission/../solution/main.py", "exercise.toml"]:
        try:
            with open(path) as handle:
                found.append(f"read {path}: {handle.read(20)!r}")
        except OSError:
            pass
    try:
        with open("/submission/planted.txt", "w") as handle:
            handle.write("x")
        found.append("wrote into /submission")
    except OSError:
        pass
    secrets = [name for name in os.environ]
    leaked = [item for item in found if "solution" in item or "passwd" in item
              or "exercise.toml" in item or "wrote" in item or "environ" in item]
    return "sandbox held" if not leaked and not secrets else f"leaked: {leaked} {secrets}"
