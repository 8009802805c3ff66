# A11: sleeps past the wall limit without using CPU.
import time
time.sleep(600)
print("escaped")
