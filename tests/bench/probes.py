#!/usr/bin/env python3
# probes.py RUNS LABEL:CMD ...: runs each shell command RUNS times under
# glibc, jemalloc, mimalloc, tcmalloc and jmalloc ($JM, default this
# tree's liballoc/libjmalloc.so; $JM_OLD adds a column), the order
# rotating, timed by /usr/bin/time; prints medians of CPU (user + system),
# peak RSS and minor faults, and jmalloc's ratios to the best anchor,
# flagged <<< past 1.3 (CPU), 1.25 (RSS) or 1.5 (faults). A command that
# prints "rtime: X" (the originals of session 21 in probes.c: the time the
# original program reports, which mimalloc-bench reads) also gets the
# median of X and jmalloc's ratio to the best anchor's. Each run is
# appended to $LOG (default /tmp/probes.log) as it ends. /usr/bin/time
# reads CPU in hundredths of a second: a median below that counts as
# 0.01 s in the ratios (a probe of 0.00 s under an anchor divided by zero).
# docs/programs.md, "Probes outside make bench".
import subprocess, sys, os, re, statistics, tempfile
L='/usr/lib/x86_64-linux-gnu/'
ALLOC={'glibc':'', 'jemalloc':L+'libjemalloc.so.2','mimalloc':L+'libmimalloc.so.2','tcmalloc':L+'libtcmalloc_minimal.so.4','jmalloc':os.environ.get('JM',os.path.join(os.path.dirname(os.path.abspath(__file__)),'..','..','liballoc','libjmalloc.so'))}
if os.environ.get('JM_OLD'): ALLOC['jmold']=os.environ['JM_OLD']
runs=int(sys.argv[1]); probes=[a.split(':',1) for a in sys.argv[2:]]
res={}
names=list(ALLOC)
log=open(os.environ.get('LOG','/tmp/probes.log'),'a')
for lab,cmd in probes:
  for r in range(runs):
    order=names[r%len(names):]+names[:r%len(names)]
    for a in order:
      env=dict(os.environ); env['LD_PRELOAD']=ALLOC[a]
      tf=tempfile.mktemp()
      p=subprocess.run(['/usr/bin/time','-o',tf,'-f','%e %U %S %M %R','sh','-c',cmd],env=env,stdout=subprocess.PIPE,stderr=subprocess.PIPE)
      e,u,s,m,f=open(tf).read().split()[-5:]; os.unlink(tf)
      rt=re.search(rb'rtime: ([0-9.]+)',p.stdout); rt=float(rt.group(1)) if rt else float('nan')
      if p.returncode and lab!='diff': print('FAIL',lab,a,p.stderr[-300:],file=sys.stderr)
      res.setdefault(lab,{}).setdefault(a,[]).append((float(u)+float(s),int(m),int(f),float(e),rt))
      log.write('%s %s %.2f %d %d %s %s\n'%(lab,a,float(u)+float(s),int(m),int(f),e,rt)); log.flush()
anch=['glibc','jemalloc','mimalloc','tcmalloc']
print('%-14s %-9s %7s %8s %8s %7s | jm/bestCPU jm/leanRSS jm/fewFLT jm/jeRSS jm/bestRT'%('probe','alloc','cpu','rssMB','faults','rtime'))
for lab,_ in probes:
  med={a:tuple(statistics.median(x[i] for x in v) for i in range(5)) for a,v in res[lab].items()}
  for a in names: 
    c,m,f,e,rt=med[a]; print('%-14s %-9s %7.2f %8.1f %8d %7.3f'%(lab,a,c,m/1024,f,rt))
  br=min(med[a][4] for a in anch); bc=max(0.01,min(med[a][0] for a in anch)); lm=min(med[a][1] for a in anch); ff=min(med[a][2] for a in anch)
  for j in [n for n in names if n.startswith('jm')]:
    c,m,f,e,rt=med[j]
    flag=' <<<' if (c>1.3*bc or m>1.25*lm or f>1.5*ff) else ''
    q=lambda x,y: x/y if y else float('nan')
    print('%-14s %-9s %52s %.2f %.2f %.2f %.2f %.2f%s'%(lab,j,'',q(c,bc),q(m,lm),q(f,ff),q(m,med['jemalloc'][1]),q(rt,br),flag))
  sys.stdout.flush()
