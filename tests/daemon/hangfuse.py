# hangfuse.py TARGET ROOTMODE: mounts on TARGET a FUSE file system whose
# server never answers (not even its INIT), its root of mode ROOTMODE
# (octal: 40000 a directory, 100000 a regular file), says "mounted", and
# holds it until killed. Run as root, in a mount namespace of its own
# (unshare --mount --propagation private) where the test wants one.
# tests/lib.sh (fuse_hold): tests/daemon/fuse_mount.test.sh, tests/containers/fuse_*.test.sh.
import ctypes, os, sys, time
target, rootmode = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/dev/fuse", os.O_RDWR)
opts = "fd=%d,rootmode=%s,user_id=65534,group_id=65534,allow_other" % (fd, rootmode)
if libc.mount(b"hang", target.encode(), b"fuse", 6, opts.encode()) != 0:   # MS_NOSUID|MS_NODEV
    print("mount failed: " + os.strerror(ctypes.get_errno()), flush=True)
    sys.exit(1)
print("mounted", flush=True)
while True:
    time.sleep(3600)
