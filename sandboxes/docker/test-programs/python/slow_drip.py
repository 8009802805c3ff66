# A18: one byte every 100 ms, forever.
import sys, time
while True:
    sys.stdout.write(".")
    sys.stdout.flush()
    time.sleep(0.1)
