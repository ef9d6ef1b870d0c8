#!/usr/bin/env python3
# rss_where.py [--runs N] [--allocators a,b] [--exit] -- CMD [ARGS]: where a
# program's resident pages are, under each allocator (LD_PRELOAD; glibc,
# mimalloc, jemalloc, tcmalloc, jmalloc = $JM or this tree's library, and
# NAME=PATH entries of $RSS_ALLOCATORS, which replace that list).
# Exact, unlike ru_maxrss (make bench's figure: the kernel's per-CPU RSS
# counters, folded 32 pages at a time, read up to some hundreds of KiB off
# on a small process): the process is stopped (SIGSTOP) every half
# millisecond while its /proc/PID/smaps_rollup is read, and the whole
# /proc/PID/smaps is kept at the highest Rss seen; with --exit, instead,
# the process is stopped by gdb at its exit_group (for programs that run
# for less than a few milliseconds: /bin/true, a malloc(1)). Prints, per
# allocator, the median over the runs of that peak, in KiB, by part:
#   anon      anonymous pages (heap, chunks, arenas, caches, stacks, TLS;
#             jmalloc's chunk map and base memory; the libraries' .bss)
#   segment   jmalloc's stats segment (/dev/shm/jmalloc.PID.stats)
#   alloc     the allocator library's mappings (text and read-only data,
#             shared with every process of the machine but counted in
#             each one's RSS; its .data, relocations)
#   libs      the other libraries' mappings (libc, ld.so), the same
#   prog      the program's own mappings
# and the largest anonymous mappings of the last run (size, Rss).
# docs/allocator.md, "What a small process pays" (session 30).
import os, re, signal, statistics, subprocess, sys, tempfile, time

L = '/usr/lib/x86_64-linux-gnu/'
here = os.path.dirname(os.path.abspath(__file__))
ALLOC = {'glibc': '', 'mimalloc': L + 'libmimalloc.so.2', 'jemalloc': L + 'libjemalloc.so.2',
         'tcmalloc': L + 'libtcmalloc_minimal.so.4',
         'jmalloc': os.environ.get('JM', os.path.join(here, '..', '..', 'liballoc', 'libjmalloc.so'))}
if os.environ.get('RSS_ALLOCATORS'):
    ALLOC = dict(e.split('=', 1) for e in os.environ['RSS_ALLOCATORS'].split())

args = sys.argv[1:]
runs, only, at_exit = 3, None, False
while args and args[0] != '--':
    if args[0] == '--runs':
        runs = int(args[1]); args = args[2:]
    elif args[0] == '--allocators':
        only = args[1].split(','); args = args[2:]
    elif args[0] == '--exit':
        at_exit = True; args = args[1:]
    else:
        sys.exit('usage: rss_where.py [--runs N] [--allocators a,b] [--exit] -- CMD [ARGS]')
cmd = args[1:]
if not cmd:
    sys.exit('usage: rss_where.py [--runs N] [--allocators a,b] [--exit] -- CMD [ARGS]')
names = [a for a in ALLOC if only is None or a in only]


def peak_polled(env):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    best, text = -1, ''
    while p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGSTOP)
            with open('/proc/%d/smaps_rollup' % p.pid) as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith('Rss:'))
            if rss > best:
                with open('/proc/%d/smaps' % p.pid) as f:
                    best, text = rss, f.read()
            os.kill(p.pid, signal.SIGCONT)
        except (ProcessLookupError, FileNotFoundError, StopIteration):
            break
        time.sleep(0.0005)
    p.wait()
    return text


def peak_at_exit(env):
    out = tempfile.mktemp()
    py = tempfile.mktemp(suffix='.py')
    with open(py, 'w') as f:
        f.write('import gdb, shutil\nshutil.copyfile("/proc/%%d/smaps" %% gdb.selected_inferior().pid, %r)\n' % out)
    pre = ['-ex', 'set environment LD_PRELOAD=' + env['LD_PRELOAD']] if env.get('LD_PRELOAD') else []
    subprocess.run(['gdb', '-q', '-batch', '-ex', 'set startup-with-shell off'] + pre +
                   ['-ex', 'catch syscall exit_group', '-ex', 'run', '-ex', 'source ' + py, '--args'] + cmd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.unlink(py)
    try:
        with open(out) as f:
            return f.read()
    finally:
        if os.path.exists(out):
            os.unlink(out)


def parts(text, lib, exe):
    sums = dict.fromkeys(('anon', 'segment', 'alloc', 'libs', 'prog'), 0)
    anon = []
    name = None
    for line in text.splitlines():
        m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$', line)
        if m:
            lo, hi, name = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            continue
        if not line.startswith('Rss:'):
            continue
        kb = int(line.split()[1])
        if '/jmalloc.' in name and '.stats' in name:
            part = 'segment'
        elif name == '' or name.startswith('['):
            part = 'anon'
            anon.append((kb, (hi - lo) // 1024, name or '[anon]'))
        elif lib and os.path.realpath(name) == os.path.realpath(lib):
            part = 'alloc'
        elif os.path.realpath(name) == exe:
            part = 'prog'
        else:
            part = 'libs'
        sums[part] += kb
    return sums, sorted(anon, reverse=True)[:4]


exe = os.path.realpath(subprocess.run(['sh', '-c', 'command -v "$0"', cmd[0]],
                                      capture_output=True, text=True).stdout.strip() or cmd[0])
print('%-10s %7s %7s %7s %7s %7s %7s   largest anonymous mappings (Rss/size KiB)'
      % ('allocator', 'total', 'anon', 'segment', 'alloc', 'libs', 'prog'))
for a in names:
    if ALLOC[a] and not os.path.exists(ALLOC[a]):
        print('%-10s not found: %s' % (a, ALLOC[a]))
        continue
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)
    if ALLOC[a]:
        env['LD_PRELOAD'] = ALLOC[a]
    got = []
    for r in range(runs):
        text = peak_at_exit(env) if at_exit else peak_polled(env)
        if text:
            got.append(parts(text, ALLOC[a], exe))
    if not got:
        print('%-10s no sample (try --exit)' % a)
        continue
    med = {k: statistics.median(g[0][k] for g in got) for k in got[0][0]}
    print('%-10s %7d %7d %7d %7d %7d %7d   %s' % (
        a, sum(med.values()), med['anon'], med['segment'], med['alloc'], med['libs'], med['prog'],
        ' '.join('%d/%d' % (kb, size) for kb, size, _ in got[-1][1])))
