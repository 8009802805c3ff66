# A18 (time_limit): one byte every 100 ms, never finishing: the wall limit ends it.
import sys
import time

while True:
    sys.stdout.write(".")
    time.sleep(0.1)
