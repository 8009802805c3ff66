"""verdict's HTTP prober for the Docker runner (Python image).

It runs as its own user (uid 10002), so the learner's server (uid 10001) can neither
signal, trace nor read it. It reads {"port", "ready_path", "ready_ms", "probe_ms",
"probes": [{"method", "path", "headers", "body"}]} from stdin, waits until ready_path
answers 2xx, sends the probes in order, and prints one JSON line per step:
first {"ready": true|false, ...}, then one {"status", "headers", "body"} or {"error"}
per probe. It only reports what it saw; the host compares.
"""
import http.client
import json
import signal
import socket
import sys
import time

BODY_CAP = 256 * 1024


def send(port, method, path, headers, body, timeout):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body.encode() if body is not None else None,
                           headers=headers)
        response = connection.getresponse()
        data = response.read(BODY_CAP + 1)
        return {
            "status": response.status,
            "headers": {k.lower(): v for k, v in response.getheaders()},
            "body": data[:BODY_CAP].decode("utf-8", "replace"),
            "truncated": len(data) > BODY_CAP,
        }
    finally:
        connection.close()


class Overdue(Exception):
    """The whole exchange (connect, headers, body) passed its deadline."""


def overdue(signum, frame):
    raise Overdue()


def send_within(seconds, *args):
    """`send`, bounded as a whole: a server that drips its answer still runs out of time."""
    signal.signal(signal.SIGALRM, overdue)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return send(*args, seconds)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def main():
    request = json.loads(sys.stdin.read())
    port = request["port"]
    deadline = time.monotonic() + request["ready_ms"] / 1000
    started = time.monotonic()
    last = "nothing answered"
    while True:
        try:
            answer = send_within(1.0, port, "GET", request["ready_path"], {}, None)
            if 200 <= answer["status"] < 300:
                emit({"ready": True, "after_ms": int((time.monotonic() - started) * 1000)})
                break
            last = f"{request['ready_path']} answered {answer['status']}"
        except (OSError, http.client.HTTPException, Overdue) as error:
            last = f"{type(error).__name__}: {error}"
        if time.monotonic() > deadline:
            emit({"ready": False, "error": last})
            return
        time.sleep(0.02)
    for probe in request["probes"]:
        began = time.monotonic()
        try:
            record = send_within(request["probe_ms"] / 1000, port, probe["method"],
                                 probe["path"], probe.get("headers") or {}, probe.get("body"))
        except (socket.timeout, Overdue):
            record = {"error": "the server did not answer in time", "timeout": True}
        except (OSError, http.client.HTTPException) as error:
            record = {"error": f"{type(error).__name__}: {error}"}
        record["ms"] = int((time.monotonic() - began) * 1000)
        emit(record)


if __name__ == "__main__":
    main()
