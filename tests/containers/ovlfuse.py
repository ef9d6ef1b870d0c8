# ovlfuse.py FUSEDEV TARGET WORK: in the user and mount namespace it runs
# in, mounts on WORK/fuse a FUSE file system through FUSEDEV (/dev/fuse,
# or a node of it) whose server answers only what a mount asks (INIT,
# STATFS, the root's GETATTR) and nothing after (no OPENDIR, LOOKUP, OPEN,
# READDIR, ...), then an overlay on TARGET of WORK/top (an empty
# directory) over it: a file system that is no FUSE to statfs, whose
# readdir asks that server. Says "mounted", and serves until killed.
# tests/containers/overlay_fuse.test.sh.
import ctypes, os, struct, sys
dev, target, work = sys.argv[1], sys.argv[2], sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
low, top = os.path.join(work, "fuse"), os.path.join(work, "top")
for p in (low, top):
    os.makedirs(p, exist_ok=True)
fd = os.open(dev, os.O_RDWR)
opts = "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other" % fd
if libc.mount(b"lazy", low.encode(), b"fuse", 6, opts.encode()) != 0:   # MS_NOSUID|MS_NODEV
    print("fuse mount failed: " + os.strerror(ctypes.get_errno()), flush=True)
    sys.exit(1)
INIT, GETATTR, STATFS, ACCESS, STATX = 26, 3, 17, 34, 52
NOSYS = (22, 23, 21, 24, ACCESS, STATX)    # GETXATTR LISTXATTR SETXATTR REMOVEXATTR
def reply(unique, err=0, body=b""):
    os.write(fd, struct.pack("<IiQ", 16 + len(body), err, unique) + body)
def attr():
    # fuse_attr_out: attr_valid, nsec, dummy; fuse_attr of the root
    a = struct.pack("<QQQQQQIIIIIIIIII", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0o40755, 2, 0, 0, 0, 4096, 0)
    return struct.pack("<QII", 3600, 0, 0) + a
mounted = False
while True:
    if not mounted and os.fork() == 0:
        # The overlay, once the server answers (its mount asks STATFS).
        o = "lowerdir=%s:%s" % (top, low)
        if libc.mount(b"ovl", target.encode(), b"overlay", 0, o.encode()) != 0:
            print("overlay mount failed: " + os.strerror(ctypes.get_errno()), flush=True)
            os._exit(1)
        print("mounted", flush=True)
        os._exit(0)
    mounted = True
    buf = os.read(fd, 1 << 20)
    length, op, unique = struct.unpack_from("<IIQ", buf)
    if op == INIT:
        reply(unique, 0, struct.pack("<IIIIHHIIHHII", 7, 31, 65536, 0, 16, 12, 65536, 1, 0, 0, 0, 0)
              + bytes(24))
    elif op == GETATTR:
        reply(unique, 0, attr())
    elif op == STATFS:
        reply(unique, 0, struct.pack("<QQQQQIII", 0, 0, 0, 0, 0, 4096, 255, 4096) + bytes(28))
    elif op in NOSYS:
        reply(unique, -38)
    # everything else: never answered
