# A4: allocate 1 GiB, a chunk at a time, touching every page.
chunks = []
for _ in range(1024):
    chunks.append(bytearray(1024 * 1024))
print(f"escaped: allocated {len(chunks)} MiB")
