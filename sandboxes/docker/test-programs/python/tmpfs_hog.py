# A6: memory through tmpfs: /tmp and /dev/shm must be capped.
written = 0
for path in ["/tmp/fill", "/dev/shm/fill"]:
    try:
        with open(path, "wb") as f:
            for _ in range(1024):
                f.write(b"x" * 1024 * 1024)
                written += 1
    except OSError:
        pass
print("sandbox held" if written <= 80 else f"escaped: wrote {written} MiB to tmpfs")
