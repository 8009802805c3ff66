// A9: an infinite loop.
for (;;) {}
