# B5: the environment holds only what the runner documents: no database URL, token or
# other variable of the host.
import os
allowed = {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "PWD", "HOSTNAME"}
extra = sorted(set(os.environ) - allowed)
print("sandbox held" if not extra else f"escaped: saw {extra}")
