#!/usr/bin/env bash
# Measures which container limits this Docker engine enforces, with an image that has
# python3 (argument 1). Each line: the limit, what was asked, what happened.
set -u
IMAGE=${1:-verdict-probe:latest}
run() { docker run --rm --network none --log-driver none "$@" 2>&1; }
py() { local opts=("${@:1:$#-1}"); run "${opts[@]}" "$IMAGE" python3 -c "${!#}"; }

echo "memory (--memory 64m --memory-swap 64m, allocate 256 MiB):"
name=probe-mem-$$
docker run --name "$name" --network none --memory 64m --memory-swap 64m "$IMAGE" \
  python3 -c "b = bytearray(256 * 1024 * 1024); print('allocated 256 MiB')" >/dev/null 2>&1
echo "  exit $(docker inspect -f '{{.State.ExitCode}}' "$name"), OOMKilled=$(docker inspect -f '{{.State.OOMKilled}}' "$name")"
docker rm -f "$name" >/dev/null

echo "pids (--pids-limit 16, start 64 sleepers):"
py --pids-limit 16 "
import os, time
n = 0
for i in range(64):
    try:
        if os.fork() == 0:
            time.sleep(2); os._exit(0)
        n += 1
    except OSError as e:
        print('  fork refused after', n, ':', e); break
else:
    print('  all 64 forks succeeded')
"

echo "cpus (--cpus 0.5, busy 2 s of wall time):"
py --cpus 0.5 "
import time, os
start = time.time(); t0 = os.times()
while time.time() - start < 2: pass
t1 = os.times()
print('  cpu %.2f s in 2.0 s wall' % ((t1.user - t0.user) + (t1.system - t0.system)))
"

echo "network (--network none, connect to 1.1.1.1:53 and the bridge gateway):"
py "
import socket
for host in ['1.1.1.1', '172.17.0.1', '169.254.169.254']:
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, 53)); print('  connected to', host)
    except OSError as e:
        print('  ', host, 'refused:', e)
"

echo "read-only root (--read-only, write /usr/evil):"
py --read-only "
try:
    open('/usr/evil', 'w').write('x'); print('  wrote /usr/evil')
except OSError as e:
    print('  refused:', e)
"

echo "tmpfs size (--tmpfs /scratch:size=1m, write 4 MiB):"
py --read-only --tmpfs /scratch:rw,size=1m "
try:
    open('/scratch/f', 'wb').write(b'x' * (4 << 20)); print('  wrote 4 MiB')
except OSError as e:
    print('  refused:', e)
"

echo "ulimit nofile (--ulimit nofile=64:64, open 100 files):"
py --ulimit nofile=64:64 "
files = []
try:
    for i in range(100): files.append(open('/dev/null'))
    print('  opened 100')
except OSError as e:
    print('  refused after', len(files), ':', e)
"

echo "ulimit fsize (--ulimit fsize=1048576, write 4 MiB to /tmp):"
py --ulimit fsize=1048576 "
import signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
try:
    open('/tmp/big', 'wb').write(b'x' * (4 << 20)); print('  wrote 4 MiB')
except OSError as e:
    print('  refused:', e)
"

echo "user, capabilities, no-new-privileges, seccomp (--user 65534 --cap-drop ALL --security-opt no-new-privileges):"
py --user 65534:65534 --cap-drop ALL --security-opt no-new-privileges "
import os
print('  uid', os.getuid(), 'gid', os.getgid())
for line in open('/proc/self/status'):
    if line.split(':')[0] in ('CapEff', 'CapBnd', 'NoNewPrivs', 'Seccomp'):
        print('  ' + line.strip())
"

echo "init (--init, PID 1):"
py --init "print('  pid 1 is', open('/proc/1/comm').read().strip())"

echo "environment (nothing passed):"
py "import os; print('  ', sorted(os.environ))"
