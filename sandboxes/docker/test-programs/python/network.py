# B1: the internet, DNS, the Docker bridge gateway (and services on the host such as
# the database), and the cloud metadata address must all be unreachable.
import socket
reached = []
for host, port in [("1.1.1.1", 53), ("8.8.8.8", 443), ("172.17.0.1", 2375),
                   ("172.17.0.1", 55432), ("172.17.0.1", 5432), ("169.254.169.254", 80)]:
    try:
        socket.create_connection((host, port), timeout=1).close()
        reached.append(f"{host}:{port}")
    except OSError:
        pass
try:
    socket.getaddrinfo("example.com", 80)
    reached.append("dns")
except OSError:
    pass
print("sandbox held" if not reached else f"escaped: reached {reached}")
