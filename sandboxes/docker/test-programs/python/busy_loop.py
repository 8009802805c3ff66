# A9: an infinite loop.
while True:
    pass
