# A20: fill every writable place with one big file: each write must fail early.
import os
results = []
for path in ["/tmp/big", "/work/app/big", "/work/big", "/var/tmp/big", "/big"]:
    written = 0
    try:
        with open(path, "wb") as f:
            for _ in range(256):
                f.write(b"x" * 1024 * 1024)
                written += 1
    except OSError:
        pass
    results.append(written)
print("sandbox held" if max(results) <= 17 else f"escaped: wrote {results} MiB")
