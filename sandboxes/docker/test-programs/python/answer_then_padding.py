# A16: the right answer, then 10 MB of padding.
print("sandbox held")
print(" " * 10_000_000)
