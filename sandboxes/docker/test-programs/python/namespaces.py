# B7: unshare, mount, chroot and ptrace need privileges the sandbox does not have.
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
done = []
if libc.unshare(0x10000000) == 0:          # CLONE_NEWUSER
    done.append("unshare(user)")
if libc.unshare(0x00020000) == 0:          # CLONE_NEWNS
    done.append("unshare(mount)")
if libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0:
    done.append("mount")
try:
    os.chroot("/tmp")
    done.append("chroot")
except OSError:
    pass
if libc.ptrace(16, 1, None, None) == 0:    # PTRACE_ATTACH to pid 1
    done.append("ptrace(1)")
print("sandbox held" if not done else f"escaped: {done}")
