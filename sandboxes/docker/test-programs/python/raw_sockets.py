# B2: raw and packet sockets need capabilities the sandbox does not have.
import socket
opened = []
for family, kind, proto in [(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
                            (socket.AF_PACKET, socket.SOCK_RAW, 0)]:
    try:
        socket.socket(family, kind, proto).close()
        opened.append((family, kind))
    except OSError:
        pass
print("sandbox held" if not opened else f"escaped: opened {opened}")
