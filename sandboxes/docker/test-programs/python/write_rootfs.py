# B10: the root filesystem is read-only.
written = []
for path in ["/usr/bin/python3", "/etc/hosts", "/evil", "/usr/lib/evil"]:
    try:
        with open(path, "ab") as f:
            f.write(b"x")
        written.append(path)
    except OSError:
        pass
print("sandbox held" if not written else f"escaped: wrote {written}")
