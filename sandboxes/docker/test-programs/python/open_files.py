# A22: open files until refused.
handles = []
try:
    for _ in range(100_000):
        handles.append(open("/dev/null"))
except OSError:
    pass
print("sandbox held" if len(handles) < 1000 else f"escaped: {len(handles)} files open")
