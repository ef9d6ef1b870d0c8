/*
 * probes.c: ad-hoc allocation patterns outside `make bench` (session 10,
 * docs/programs.md, "Probes outside make bench"): one binary, the pattern
 * named by its first argument, threads by the second where it has any.
 *   cc -O2 -pthread -o /tmp/probes tests/bench/probes.c
 *   tests/bench/probes.py 3 tiny:"/tmp/probes tiny" prodcons:"/tmp/probes prodcons 2"
 * The C++ probes (sized delete, std::string and std::map nodes) are in
 * probes_cxx.cc (session 38).
 * Pages are written through touch() (volatile): a plain store to memory
 * that is only ever freed is removed by the compiler, and an early
 * version of these probes measured nothing but the allocator's own
 * writes that way. Not built by the Makefile; not a workload.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>
#include <malloc.h>
#include <stdatomic.h>
#include <time.h>
#include <signal.h>
#include <sched.h>
#include <semaphore.h>
#include <math.h>

static __thread uint64_t rs = 88172645463325252ull;
static inline uint64_t rnd(void){ rs ^= rs<<13; rs ^= rs>>7; rs ^= rs<<17; return rs; }
static long sink;
static void touch(char*p,size_t s){ volatile char*v=p; for(size_t o=0;o<s;o+=4096) v[o]=1; if(s) v[s-1]=1; }

/* tiny: 8M x 1..16 B kept, freed in random order */
static void p_tiny(void){
  size_t n = 2u<<20; char **v = malloc(n*sizeof *v);
  for (size_t i=0;i<n;i++){ size_t s=1+rnd()%16; v[i]=malloc(s); v[i][0]=(char)i; }
  for (size_t i=n-1;i>0;i--){ size_t j=rnd()%(i+1); char*t=v[i]; v[i]=v[j]; v[j]=t; }
  for (size_t i=0;i<n;i++){ sink+=v[i][0]; free(v[i]); }
  free(v);
}
/* page class churn 14..32 KiB, working set 2000, touch every page */
static void p_pageclass(void){
  enum{W=2000}; char *v[W]={0};
  for (long i=0;i<400000;i++){ int k=rnd()%W; free(v[k]); size_t s=14*1024+rnd()%(18*1024); v[k]=malloc(s); touch(v[k],s); }
  for(int k=0;k<W;k++) free(v[k]);
}
/* large FIFO: 32K..2M objects in a queue of 64, touch every page */
static void p_largefifo(void){
  enum{Q=64}; char *q[Q]={0}; long h=0;
  for (long i=0;i<4000;i++){ int k=h++%Q; free(q[k]); size_t s=32768<<(rnd()%7); s+=rnd()%s; q[k]=malloc(s); touch(q[k],s); }
  for(int k=0;k<Q;k++) free(q[k]);
}
/* small FIFO: queue of 1M objects 16..256, 20M ops */
static void p_smallfifo(void){
  size_t Q=1u<<20; char **q=calloc(Q,sizeof *q);
  for (size_t i=0;i<8u<<20;i++){ size_t k=i&(Q-1); free(q[k]); q[k]=malloc(16+rnd()%241); touch(q[k],1); }
  for(size_t k=0;k<Q;k++)
    free(q[k]);
  free(q);
}
/* phase change: 400 MB of 64 B, freed; then 400MB of 1000 B; then 400MB of 20 KiB; then 400MB of 100 KiB */
static void p_phase(void){
  size_t sizes[]={64,1000,20000,100000,48}; size_t total=100u<<20;
  for (int p=0;p<5;p++){ size_t s=sizes[p], n=total/s; char **v=malloc(n*sizeof *v);
    for(size_t i=0;i<n;i++){ v[i]=malloc(s); touch(v[i],s); memset(v[i],1,s<64?s:64); }
    for(size_t i=0;i<n;i++)
      free(v[i]);
    free(v); }
}
/* long-lived growing: a heap growing to 300 MB of mixed small objects with 10% churn */
static void p_grow(void){
  size_t n=3u<<19; char **v=malloc(n*sizeof *v); size_t m=0;
  while (m<n){ size_t s=16+rnd()%176; v[m]=malloc(s); v[m][0]=1; m++; if(rnd()%10==0 && m>1){ size_t j=rnd()%m; free(v[j]); v[j]=v[--m]; } }
  for(size_t i=0;i<m;i++)
    free(v[i]);
  free(v);
}
/* string builder: 200k strings grown by realloc 1..16 bytes up to 64..8192 B */
static void p_strbuild(void){
  enum{N=20000}; char **v=calloc(N,sizeof *v);
  for(int r=0;r<10;r++){ for(int k=0;k<N;k++){ size_t len=0,cap=0; char*b=NULL; size_t tgt=64<<(rnd()%8);
      while(len<tgt){ size_t a=1+rnd()%16; if(len+a>cap){ cap=len+a; b=realloc(b,cap);} memset(b+len,'x',a); len+=a; }
      free(v[k]); v[k]=b; } }
  for(int k=0;k<N;k++)
    free(v[k]);
  free(v);
}
/* vector doubling: 2000 vectors doubled from 16 B to 64..4M */
static void p_vecdouble(void){
  for(int r=0;r<3000;r++){ size_t cap=16; char*b=malloc(cap); size_t tgt=64u<<(rnd()%17);
    while(cap<tgt){ cap*=2; b=realloc(b,cap); touch(b+cap/2,cap/2); } sink+=b[0]; free(b); }
}
/* calloc of big arrays: 64 MiB calloc, touch 1/8, free; 200 times */
static void p_callocbig(void){
  for(int r=0;r<60;r++){ size_t s=(size_t)(8+rnd()%56)<<20; char*b=calloc(1,s); for(size_t o=0;o<s/8;o+=4096) sink+=b[o]++; free(b);} }
/* calloc mid: 100K..1M calloc, all read, 20000 times */
static void p_callocmid(void){
  char *keep[8]={0};
  for(int r=0;r<4000;r++){ size_t s=100000+rnd()%900000; char*b=calloc(1,s); for(size_t o=0;o<s;o+=4096) sink+=b[o]; b[0]=1; int k=r&7; free(keep[k]); keep[k]=b; }
  for(int k=0;k<8;k++) free(keep[k]); }
/* aligned 4096/4096 pages: 100k posix_memalign(4096, 4096) live then freed */
static void p_align4k(void){
  size_t n=20000; void**v=malloc(n*sizeof *v);
  for(int r=0;r<3;r++){ for(size_t i=0;i<n;i++){ if(posix_memalign(&v[i],4096,4096)) abort(); ((char*)v[i])[0]=1; } for(size_t i=0;i<n;i++) free(v[i]); }
  free(v);
}
/* aligned 64-byte small: 2M aligned_alloc(64, 64) */
static void p_align64(void){
  size_t n=1u<<20; void**v=malloc(n*sizeof *v);
  for(size_t i=0;i<n;i++){ v[i]=aligned_alloc(64,64); ((char*)v[i])[0]=1; }
  for(size_t i=0;i<n;i++)
    free(v[i]);
  free(v);
}
/* reuse: malloc 256K..1M, touch all, free, repeated; faults measure reuse */
static void p_reuse(void){
  for(int r=0;r<50000;r++){ size_t s=262144+rnd()%786432; char*b=malloc(s); touch(b,s); sink+=b[s-1]; free(b); } }
/* thread churn: 20000 threads, each a task allocating 200 objects, freeing them, exiting; 4 at a time */
static void *task(void*a){ (void)a; char*v[200]; for(int i=0;i<200;i++){ v[i]=malloc(16+rnd()%1000); v[i][0]=1; } for(int i=0;i<200;i++) free(v[i]); return NULL; }
static void p_threadchurn(void){
  for(int r=0;r<5000;r++){ pthread_t t[4]; for(int i=0;i<4;i++) pthread_create(&t[i],NULL,task,NULL); for(int i=0;i<4;i++) pthread_join(t[i],NULL); } }
/* detached thread churn keeping objects: each thread allocates 100 objects kept by main and freed later */
static char *shared[1<<16]; static pthread_mutex_t mu=PTHREAD_MUTEX_INITIALIZER; static long sh_n;
static void *task2(void*a){ (void)a; for(int i=0;i<100;i++){ char*p=malloc(16+rnd()%500); p[0]=1; pthread_mutex_lock(&mu); long k=sh_n++ & 0xffff; free(shared[k]); shared[k]=p; pthread_mutex_unlock(&mu);} return NULL; }
static void p_threadkeep(void){
  for(int r=0;r<5000;r++){ pthread_t t[4]; for(int i=0;i<4;i++) pthread_create(&t[i],NULL,task2,NULL); for(int i=0;i<4;i++) pthread_join(t[i],NULL); }
  for(int k=0;k<0x10000;k++) free(shared[k]); }
/* producer/consumer with T pairs, queue of pointers 16..4096 B */
typedef struct { char **ring; volatile long head, tail; long n; } ring_t;
static int NT=2;
#define RQ 4096
static void *prod(void*a){ ring_t*r=a; for(long i=0;i<r->n;i++){ while(r->head - __atomic_load_n(&r->tail,__ATOMIC_ACQUIRE) >= RQ) sched_yield(); char*p=malloc(16+rnd()%4080); p[0]=1; r->ring[r->head%RQ]=p; __atomic_store_n(&r->head,r->head+1,__ATOMIC_RELEASE);} return NULL; }
static void *cons(void*a){ ring_t*r=a; for(long i=0;i<r->n;i++){ while(__atomic_load_n(&r->head,__ATOMIC_ACQUIRE)==r->tail) sched_yield(); char*p=r->ring[r->tail%RQ]; sink+=p[0]; free(p); __atomic_store_n(&r->tail,r->tail+1,__ATOMIC_RELEASE);} return NULL; }
static void p_prodcons(void){
  int pairs=NT/2; if(pairs<1)pairs=1; ring_t*rs_=calloc(pairs,sizeof(ring_t)*4); pthread_t t[128];
  for(int i=0;i<pairs;i++){ ring_t*r=&rs_[i*4]; r->ring=malloc(RQ*sizeof(char*)); r->n=1000000/pairs; pthread_create(&t[2*i],NULL,prod,r); pthread_create(&t[2*i+1],NULL,cons,r); }
  for(int i=0;i<2*pairs;i++) pthread_join(t[i],NULL);
}
/* per-thread heaps: T threads each build 40MB/T of small objects, all live at once, then free */
static pthread_barrier_t bar;
static void *heapw(void*a){ long n=(long)a; char**v=malloc(n*sizeof *v); for(long i=0;i<n;i++){ v[i]=malloc(16+rnd()%112); v[i][0]=1; } pthread_barrier_wait(&bar); for(long i=0;i<n;i++) free(v[i]); free(v); return NULL; }
static void p_threadheaps(void){
  pthread_t t[128]; pthread_barrier_init(&bar,NULL,NT);
  for(int r=0;r<5;r++){ for(int i=0;i<NT;i++){ rs=i*7919+r+1; pthread_create(&t[i],NULL,heapw,(void*)(long)(1000000/NT)); } for(int i=0;i<NT;i++) pthread_join(t[i],NULL); }
}
/* huge > 2MiB: 3..40 MiB malloc, touch half, free; keep 4 */
static void p_huge(void){
  char*k[4]={0}; for(int r=0;r<15000;r++){ size_t s=(3u<<20)+rnd()%(37u<<20); char*b=malloc(s); touch(b,s/2); free(k[r&3]); k[r&3]=b; } for(int i=0;i<4;i++) free(k[i]); }
/* idlepool (session 15): NT threads (32 if not given) each allocate 100
 * buffers of 12..36 KiB, written, and free them, 3 rounds; then all stay
 * alive and idle, as a pool between bursts, while main waits 12 s; RSS
 * (KiB) just after the bursts and after the wait go to stderr. What a
 * thread's cache holds when it stops calling the allocator stays. */
static pthread_barrier_t ip_done, ip_exit;
static long statm_rss(void){ long a=0,r=0; FILE*f=fopen("/proc/self/statm","r"); if(f){ if(fscanf(f,"%ld %ld",&a,&r)!=2) r=0; fclose(f);} return r*4; }
static void *ipw(void*a){ (void)a; char*v[100];
  for(int r=0;r<3;r++){ for(int i=0;i<100;i++){ size_t s=12000+rnd()%24000; v[i]=malloc(s); touch(v[i],s);} for(int i=0;i<100;i++) free(v[i]); }
  pthread_barrier_wait(&ip_done); pthread_barrier_wait(&ip_exit); return NULL; }
static void p_idlepool(void){
  pthread_t t[256]; int n=NT>2&&NT<=256?NT:32; pthread_barrier_init(&ip_done,NULL,n+1); pthread_barrier_init(&ip_exit,NULL,n+1);
  for(int i=0;i<n;i++) pthread_create(&t[i],NULL,ipw,NULL);
  pthread_barrier_wait(&ip_done); long a=statm_rss(); sleep(12); long z=statm_rss();
  fprintf(stderr,"idlepool: rss after the bursts %ld KiB, after 12 s idle %ld KiB\n",a,z);
  pthread_barrier_wait(&ip_exit); for(int i=0;i<n;i++) pthread_join(t[i],NULL);
}
/* frag (session 18): 60000 slots, sizes 16 B..512 KiB (log-uniform, 7 in 8
 * under 2 KiB, a quarter written whole), random lifetimes, the live set
 * at 100, 25, 100, 50% of the slots by turns of 750k operations; 3M
 * operations. alignmix: 20000 live posix_memalign of 64 B..64 KiB
 * alignments and 1 B..70 KB (3 in 4 under 3 KB), 600k replaced. Both
 * purge in small pieces by the dirty cap (docs/programs.md, session 18). */
static void p_frag(void){
  enum { N = 60000 }; static char *v[N]; static unsigned sz[N];
  for(long i=0;i<3000000;i++){ long ph=(i/750000)%4, lim= ph==1? N/4 : ph==3? N/2 : N; unsigned k=rnd()%N;
    if(v[k]){ sink+=v[k][0]+v[k][sz[k]-1]; free(v[k]); v[k]=NULL; }
    if(k<lim){ unsigned lg=4+rnd()%15; if(rnd()%8) lg=4+rnd()%7; size_t n=((size_t)1<<lg)+rnd()%((size_t)1<<lg);
      v[k]=malloc(n); sz[k]=(unsigned)n; v[k][0]=(char)k; v[k][n-1]=(char)i; if(rnd()%4==0) memset(v[k],1,n); } }
  for(long k=0;k<N;k++) free(v[k]); }
static void p_alignmix(void){
  enum { N = 20000 }; static void *v[N];
  for(long i=0;i<600000;i++){ unsigned k=rnd()%N; free(v[k]); size_t al=(size_t)64<<(rnd()%11), n=1+rnd()%(rnd()%4? 3000 : 70000);
    if(posix_memalign(&v[k],al,n)){ fprintf(stderr,"posix_memalign failed\n"); exit(1); } memset(v[k],2,n<256? n : 256); }
  for(int k=0;k<N;k++) free(v[k]); }
/* The originals (session 21, docs/programs.md "The originals' arguments"):
 * the algorithms of the programs mimalloc-bench runs, with its arguments,
 * written for this file. Each prints "rtime: X" where the original
 * reports a time of its own (rptest, larson, xmalloc-test, glibc-thread:
 * mimalloc-bench reads that instead of the wall time; probes.py picks it
 * up). The argument lists follow the originals; o* with no arguments uses
 * bench.sh's with 2 threads. The 1 s sleeps of rptest's driver scale with
 * $PROBE_SLEEP_MS (default 1000, as the original). */
static int g_argc; static char **g_argv;
static long oarg(int i,long d){ return g_argc>i+2? atol(g_argv[i+2]) : d; }
static double now_s(void){ struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return (double)t.tv_sec+t.tv_nsec*1e-9; }
static void msleep(long ms){ struct timespec t={ms/1000,(ms%1000)*1000000L}; nanosleep(&t,NULL); }
static long sleep_1s(void){ const char*e=getenv("PROBE_SLEEP_MS"); return e? atol(e) : 1000; }

/* orptest THREADS MODE SIZEMODE CROSS LOOPS ALLOCS OPS MIN MAX (bench.sh:
 * 2 0 1 2 500 1000 100 8 16000): rpmalloc's benchmark. Per thread 1000
 * slots walked by two prime strides (7 to allocate, 11 to free); a loop
 * frees 0.8 x OPS x (30..99)% slots, then every batch other threads sent
 * it, then allocates OPS x (30..99)% (replacing what is there); every
 * CROSS-th loop it also allocates a batch of as many objects and sends it
 * to the next thread. Sizes from a table of 2000: uniform in [MIN, MAX],
 * then "linear dropoff" (the uniform size times |w0 + w1 - 1| of the two
 * entries before it). Under 4 KiB two in three come from memalign(8 or 16)
 * and memset whole, the rest from calloc; the first word, a byte in every
 * page and the last byte are written. Each thread runs 2 such phases (all
 * its objects freed after each), the driver 2 rounds of fresh threads,
 * sleeping 1 s at each of its checkpoints. rtime = 2e6 / (memory
 * operations per second of the loops' own time), as bench.sh computes it. */
typedef struct orp_batch { void **p; size_t n; struct orp_batch *next; void *pad; } orp_batch;
typedef struct { int idx; _Atomic(orp_batch*) inbox; long mops; double secs; char pad[64]; } orp_t;
static size_t orp_size[2000], orp_na[311], orp_nf[257], orp_as, orp_fs, orp_nt, orp_cross, orp_loops, orp_slots;
static orp_t *orp; static atomic_int orp_sync, orp_start;
static void *orp_new(size_t sz, size_t k){
  void *p; if(sz<4096 && k%3){ p=memalign(k%3==1? 8 : 16, sz); memset(p,0xCD,sz); } else p=calloc(1,sz);
  *(int32_t*)p=(int32_t)sz; for(size_t pg=1; pg<(sz-1)/4096; pg++) ((volatile char*)p)[pg*4096]=1; ((volatile char*)p)[sz-1]=1; return p; }
static void orp_push(orp_t *t, orp_batch *b){ orp_batch *o=atomic_load(&t->inbox); do b->next=o; while(!atomic_compare_exchange_weak(&t->inbox,&o,b)); }
static long orp_drain(orp_t *t){ long n=0; orp_batch *b=atomic_exchange(&t->inbox,NULL);
  while(b){ orp_batch *nx=b->next; for(size_t i=0;i<b->n;i++){ sink+=*(int32_t*)b->p[i]; free(b->p[i]); n++; } free(b->p); free(b); n+=2; b=nx; } return n; }
static void *orp_worker(void *a){
  orp_t *t=a; void **ptr=memalign(16,orp_slots*sizeof *ptr); memset(ptr,0,orp_slots*sizeof *ptr);
  size_t ai=0, fi=0, cross=0;
  while(!atomic_load(&orp_start)) msleep(10);
  for(size_t it=0; it<2; it++){
    size_t si=((size_t)(t->idx+1)*((it+1)*37))%2000; int dofor=1;
    for(size_t l=0; l<orp_loops; l++){
      double t0=now_s(); size_t nf=orp_nf[(it+l)%257], na=orp_na[(it+l)%311];
      for(size_t i=0;i<nf;i++){ if(ptr[fi]){ free(ptr[fi]); ptr[fi]=NULL; t->mops++; } fi=(fi+orp_fs)%orp_slots; }
      t->mops+=orp_drain(t);
      for(size_t i=0;i<na;i++){ if(ptr[ai]){ free(ptr[ai]); t->mops++; } ptr[ai]=orp_new(orp_size[(si+2)%2000], si+i); t->mops++; ai=(ai+orp_as)%orp_slots; si=(si+1)%2000; }
      orp_batch *b=NULL;
      if(orp_cross && l%orp_cross==0 && dofor){ b=memalign(16,sizeof *b); memset(b,0xCD,sizeof *b); b->n=na; b->p=memalign(16,na*sizeof(void*)); memset(b->p,0xCD,na*sizeof(void*)); t->mops+=2;
        for(size_t i=0;i<na;i++){ b->p[i]=orp_new(orp_size[(si+2)%2000], si+i); t->mops++; si=(si+1)%2000; } }
      t->secs+=now_s()-t0;
      if(b){ cross=(cross+1)%orp_nt; if(orp_nt>1 && cross==(size_t)t->idx) cross=(cross+1)%orp_nt; orp_push(&orp[cross],b); }
      if(atomic_load(&orp_sync)>0) dofor=0; }
    atomic_fetch_add(&orp_sync,1);
    do { double t0=now_s(); long n=orp_drain(t); if(n){ t->mops+=n; t->secs+=now_s()-t0; } msleep(1); } while(atomic_load(&orp_sync));
    double t0=now_s(); for(size_t i=0;i<orp_slots;i++) if(ptr[i]){ free(ptr[i]); ptr[i]=NULL; t->mops++; } t->secs+=now_s()-t0;
    msleep(10); orp_drain(t); }
  msleep(sleep_1s()); atomic_fetch_add(&orp_sync,1);
  do { double t0=now_s(); long n=orp_drain(t); if(n){ t->mops+=n; t->secs+=now_s()-t0; } msleep(1); } while(atomic_load(&orp_sync));
  free(ptr); return NULL; }
static void orp_wait(size_t n){ long s=sleep_1s(); while((size_t)atomic_load(&orp_sync)<n) msleep(s); msleep(s); }
static void p_orptest(void){
  orp_nt=oarg(0,2); long mode=oarg(1,0), smode=oarg(2,1); orp_cross=oarg(3,2); orp_loops=oarg(4,500); orp_slots=oarg(5,1000);
  long ops=oarg(6,100), mn=oarg(7,8), mx=oarg(8,16000); if(orp_nt==1) orp_cross=0;
  static const size_t primes[]={7,11,13,17,19,23,29,31,37,41,43,47}; size_t ip=0;
  orp_as=primes[ip]; while(orp_slots%orp_as==0) orp_as=primes[++ip]; orp_fs=primes[++ip]; while(orp_slots%orp_fs==0) orp_fs=primes[++ip];
  size_t range=mx-mn, raw[2000]; rs=20211205;
  for(int i=0;i<2000;i++) raw[i]=mn+(size_t)((double)range*(double)(rnd()%100000)/100000.0+0.5);
  if(!range) range=1;
  for(int i=0;i<2000;i++){ double w0=1.0-(double)(raw[i]-mn)/range, w1=1.0-(double)(raw[(i+1)%2000]-mn)/range, ev=(double)(raw[(i+2)%2000]-mn), d=w0+w1-1.0;
    orp_size[i]= mode? (size_t)mn : smode==0? raw[i] : smode==1? mn+(size_t)(ev*(d<0?-d:d)) : mn+(size_t)(ev*w0*w1); }
  for(int i=0;i<311;i++) orp_na[i]=(size_t)(ops*(30+rnd()%70)/100.0);
  for(int i=0;i<257;i++) orp_nf[i]=(size_t)(0.8*ops*(30+rnd()%70)/100.0);
  orp=calloc(orp_nt,sizeof *orp); pthread_t th[64]; long mops=0; double secs=0;
  for(int r=0;r<2;r++){
    atomic_store(&orp_start,0); atomic_store(&orp_sync,0);
    for(size_t i=0;i<orp_nt;i++){ memset(&orp[i],0,sizeof orp[i]); orp[i].idx=(int)i; pthread_create(&th[i],NULL,orp_worker,&orp[i]); }
    msleep(sleep_1s()); atomic_store(&orp_start,1);
    for(int k=0;k<3;k++){ orp_wait(orp_nt); atomic_store(&orp_sync,0); if(k<2) msleep(sleep_1s()); }
    for(size_t i=0;i<orp_nt;i++){ pthread_join(th[i],NULL); mops+=orp[i].mops; secs+=orp[i].secs; } }
  printf("rtime: %.3f (%ld memory ops in %.3f s of the loops)\n", 2e6*secs/mops, mops, secs); free(orp); }

/* oxmalloc WORKERS SECONDS SIZE (bench.sh: -w 2 -t 5 -s 64): xmalloc-test.
 * WORKERS allocating threads each fill batches of 4096 objects of SIZE
 * bytes (-1: one of 17 sizes 8..2048 at random), the first 128 bytes of
 * each written, and push each batch (one 32 KiB block) on one shared LIFO
 * stack of at most 100 batches (mutex and two condition variables);
 * WORKERS freeing threads pop batches and free them. Fixed duration:
 * rtime = 100 / (millions of objects freed per second). */
enum { OXB=4096 };
typedef struct oxb { struct oxb *next; void *o[OXB]; } oxb;
static oxb *ox_q; static int ox_n; static atomic_int ox_done; static long ox_size;
static pthread_mutex_t ox_mu=PTHREAD_MUTEX_INITIALIZER; static pthread_cond_t ox_empty=PTHREAD_COND_INITIALIZER, ox_full=PTHREAD_COND_INITIALIZER;
static struct { long c; char pad[56]; } ox_cnt[64];
static void *ox_alloc(void *a){ rs=(uint64_t)(long)a*2654435761u+1; static const long sz[]={8,12,16,24,32,48,64,96,128,192,256,384,512,768,1024,1536,2048};
  while(!atomic_load(&ox_done)){ oxb *b=malloc(sizeof *b);
    for(int i=0;i<OXB;i++){ long s=ox_size>0? ox_size : sz[rnd()%17]; b->o[i]=malloc(s); memset(b->o[i],i%256,s>128?128:s); }
    pthread_mutex_lock(&ox_mu); while(ox_n>=100 && !atomic_load(&ox_done)) pthread_cond_wait(&ox_full,&ox_mu);
    b->next=ox_q; ox_q=b; ox_n++; pthread_cond_signal(&ox_empty); pthread_mutex_unlock(&ox_mu); }
  return NULL; }
static void *ox_free(void *a){ long id=(long)a;
  while(!atomic_load(&ox_done)){ pthread_mutex_lock(&ox_mu); while(!ox_q && !atomic_load(&ox_done)) pthread_cond_wait(&ox_empty,&ox_mu);
    oxb *b=ox_q; if(b){ ox_q=b->next; ox_n--; pthread_cond_signal(&ox_full); } pthread_mutex_unlock(&ox_mu);
    if(b){ for(int i=0;i<OXB;i++) free(b->o[i]); free(b); } ox_cnt[id].c+=OXB; }
  return NULL; }
static void p_oxmalloc(void){
  long w=oarg(0,2); double secs=(double)oarg(1,5); ox_size=oarg(2,64); pthread_t th[128]; double t0=now_s();
  for(long i=0;i<w;i++){ pthread_create(&th[2*i],NULL,ox_free,(void*)i); pthread_create(&th[2*i+1],NULL,ox_alloc,(void*)i); }
  while(now_s()-t0<=secs) usleep(1000);
  pthread_mutex_lock(&ox_mu); atomic_store(&ox_done,1); pthread_cond_broadcast(&ox_empty); pthread_cond_broadcast(&ox_full); pthread_mutex_unlock(&ox_mu);
  for(long i=0;i<2*w;i++) pthread_join(th[i],NULL);
  double el=now_s()-t0; long tot=0; for(long i=0;i<w;i++) tot+=ox_cnt[i].c;
  printf("rtime: %.3f (%.3f M frees/s)\n", 100.0/(tot/el*1e-6), tot/el*1e-6);
  while(ox_q){ oxb *b=ox_q; ox_q=b->next; for(int i=0;i<OXB;i++) free(b->o[i]); free(b); } }

/* omleak N (bench.sh: 5 for mleak10, 50 for mleak100): N x 100 rounds of
 * 10 fresh threads; each callocs 128 bytes, swaps it into one of 1000
 * shared slots picked by rand() and frees what it took out. */
static _Atomic(void*) oml_t[1000];
static void *oml_w(void *a){ (void)a; void *p=calloc(16,sizeof(void*)); free(atomic_exchange(&oml_t[rand()%1000],p)); return NULL; }
static void p_omleak(void){
  long n=oarg(0,50)*100; srand(0x1ce4e5b9);
  for(long r=0;r<n;r++){ pthread_t *t=calloc(10,sizeof *t); for(int i=0;i<10;i++) pthread_create(&t[i],NULL,oml_w,NULL); for(int i=0;i<10;i++) pthread_join(t[i],NULL); free(t); }
  for(int i=0;i<1000;i++) free(oml_t[i]); }

/* osimple (bench.sh: no arguments): glibc's bench-malloc-simple as
 * mimalloc-bench has it. For block sizes 16, 32 and 64: batches of 25,
 * 100, 400 and 1600 blocks, 2M blocks per batch size, every byte written,
 * the first half freed first to last, the second half last to first; a
 * warm-up pass, then one on the main thread, one on a second thread, one
 * on the main thread again (4 x 4 x 2M blocks per size). */
typedef struct { size_t iters, size; int n; } osm_t;
static osm_t osm[3][4];
static void osm_run(osm_t *a, char **arr){ for(size_t j=0;j<a->iters;j++){ for(int i=0;i<a->n;i++){ arr[i]=malloc(a->size); for(size_t g=0;g<a->size;g++) arr[i][g]=(char)g; }
  for(int i=0;i<a->n/2;i++) free(arr[i]);
  for(int i=a->n-1;i>=a->n/2;i--) free(arr[i]); } }
static void *osm_thread(void *a){ for(int i=0;i<4;i++) osm_run(&osm[2][i],a); return a; }
static void p_osimple(void){
  static const int na[4]={25,100,400,1600};
  for(size_t size=16; size<=64; size*=2){ char **arr=malloc(1600*sizeof *arr);
    for(int t=0;t<3;t++) for(int i=0;i<4;i++){ osm[t][i]=(osm_t){ 2000000/na[i], size, na[i] }; if(t==0) osm_run(&osm[0][i],arr); }
    for(int i=0;i<4;i++) osm_run(&osm[0][i],arr);
    pthread_t th; pthread_create(&th,NULL,osm_thread,arr); pthread_join(th,NULL);
    for(int i=0;i<4;i++) osm_run(&osm[1][i],arr);
    free(arr); } }

/* olarge [N] (bench.sh: no arguments, N 2000): malloc-large. 20 slots, N times a
 * random slot gets a new buffer of 5..25 MiB (uniform), zeroed whole (as
 * make_unique<char[]> value-initialises it), allocated before the slot's
 * old buffer is freed. The memset goes through a volatile pointer: the
 * compiler turns malloc and a memset of zeros into calloc (which jemalloc
 * answers with fresh pages, never written: 0.26 s against glibc's 6.6),
 * as it does not for C++'s operator new. */
static void *(*volatile ol_memset)(void*,int,size_t)=memset;
static void p_olarge(void){
  char *b[20]={0};
  long iters=oarg(0,2000);
  for(long i=0;i<iters;i++){ int k=(int)(rnd()%20); size_t n=(5u<<20)+rnd()%((20u<<20)+1); char *p=malloc(n); ol_memset(p,0,n); sink+=p[n-1]; free(b[k]); b[k]=p; }
  for(int k=0;k<20;k++) free(b[k]); }

/* olarson SECONDS MIN MAX CHUNKS ROUNDS SEED THREADS (bench.sh: 5 8 1000
 * 5000 100 4141 2): Larson and Krishnan's server. The main thread
 * allocates THREADS x CHUNKS blocks of MIN..MAX-1 bytes, shuffles them
 * and replaces 4 x as many at random; then each thread replaces a random
 * block of its CHUNKS (the first two bytes written) ROUNDS x CHUNKS times
 * and starts its successor on the same blocks, until SECONDS have passed.
 * rtime = 1e9 / (allocations per second), as the original prints. */
typedef struct { char **blk; long n, nops, allocs; uint64_t rng; atomic_int finished; char pad[64]; } ol_t;
static atomic_int ol_stop; static long ol_min, ol_max;
static uint64_t ol_rnd(uint64_t *s){ *s ^= *s<<13; *s ^= *s>>7; *s ^= *s<<17; return *s; }
static void *ol_w(void *a){ ol_t *d=a; if(atomic_load(&ol_stop)) return NULL; atomic_store(&d->finished,0);
  for(long i=0;i<d->nops;i++){ long v=(long)(ol_rnd(&d->rng)%d->n); free(d->blk[v]); size_t s=ol_min+ol_rnd(&d->rng)%(ol_max-ol_min);
    volatile char *p=d->blk[v]=malloc(s); p[0]='a'; sink+=p[0]; p[1]='b'; d->allocs++; if(atomic_load(&ol_stop)) break; }
  atomic_store(&d->finished,1);
  if(!atomic_load(&ol_stop)){ pthread_t t; pthread_create(&t,NULL,ol_w,d); pthread_detach(t); }
  return NULL; }
static void p_olarson(void){
  long secs=oarg(0,5); ol_min=oarg(1,8); ol_max=oarg(2,1000); long ch=oarg(3,5000), rounds=oarg(4,100); rs=(uint64_t)oarg(5,4141)*2654435761u+1; long nt=oarg(6,2);
  char **blk=malloc(nt*ch*sizeof *blk); long n=nt*ch;
  for(long i=0;i<n;i++) blk[i]=malloc(ol_min+rnd()%(ol_max-ol_min));
  for(long i=n;i>0;i--){ long v=(long)(rnd()%i); char *t=blk[v]; blk[v]=blk[i-1]; blk[i-1]=t; }
  for(long i=0;i<4*n;i++){ long v=(long)(rnd()%n); free(blk[v]); blk[v]=malloc(ol_min+rnd()%(ol_max-ol_min)); }
  ol_t *d=calloc(nt,sizeof *d);
  for(long i=0;i<nt;i++){ d[i].blk=blk+i*ch; d[i].n=ch; d[i].nops=rounds*ch; d[i].rng=rnd()|1; pthread_t t; pthread_create(&t,NULL,ol_w,&d[i]); pthread_detach(t); }
  double t0=now_s(); sleep((unsigned)secs); atomic_store(&ol_stop,1);
  for(long i=0;i<nt;i++) while(!atomic_load(&d[i].finished)) sched_yield();
  double el=now_s()-t0; long al=0; for(long i=0;i<nt;i++) al+=d[i].allocs;
  printf("rtime: %.3f (%.0f allocations/s)\n", 1e9/(al/el), al/el); msleep(2500); }

/* omstress THREADS SCALE ITER (bench.sh: 2 50 25): mimalloc's
 * test-stress. ITER rounds; in each, the main thread and THREADS-1 fresh
 * ones (tid 0..) make 100 x SCALE x (tid % 8 + 1) allocations of 1..16
 * words and half as many kept to the end of the round of 1..64 words;
 * 2 in 100 are x100, of those 2 in 100 x10000 and then 11 in 100 x1000;
 * each word written and checked; at each step 67 in 100 free a random
 * one of the thread's, 26 in 100 swap one with one of 1000 shared slots.
 * The thread's list grows by realloc, 100000 pointers at a time. After a
 * round about half the shared slots are freed (all after the last). */
static _Atomic(void*) oms_t[1000]; static long oms_scale;
static uint64_t oms_pick(uint64_t *r){ uint64_t x=*r; x^=x>>30; x*=0xbf58476d1ce4e5b9ull; x^=x>>27; x*=0x94d049bb133111ebull; x^=x>>31; *r=x; return x; }
static int oms_chance(int perc, uint64_t *r){ return (int)(oms_pick(r)%100) <= perc; }
static void *oms_alloc(size_t items, uint64_t *r){
  if(oms_chance(1,r)){ if(oms_chance(1,r)) items*=10000; else if(oms_chance(10,r)) items*=1000; else items*=100; }
  if(items==40) items++;
  uintptr_t *p=malloc(items*sizeof *p); for(uintptr_t i=0;i<items;i++) p[i]=(items-i)^0xbf58476d1ce4e5b9ull; return p; }
static void oms_free(void *v){ uintptr_t *q=v; if(q){ uintptr_t n=q[0]^0xbf58476d1ce4e5b9ull; for(uintptr_t i=0;i<n;i++) if((q[i]^0xbf58476d1ce4e5b9ull)!=n-i){ fprintf(stderr,"corrupt\n"); abort(); } } free(v); }
static void *oms_stress(void *a){ long tid=(long)a; uint64_t r=(uint64_t)(tid+1)*43; size_t allocs=100*(size_t)oms_scale*(tid%8+1), retain=allocs/2, dsz=0, dtop=0, rtop=0;
  void **data=NULL, **ret=malloc(retain*sizeof *ret);
  while(allocs>0 || retain>0){
    if(retain==0 || (oms_chance(50,&r) && allocs>0)){ allocs--; if(dtop>=dsz){ dsz+=100000; data=realloc(data,dsz*sizeof *data); } data[dtop++]=oms_alloc((size_t)1<<(oms_pick(&r)%5),&r); }
    else { ret[rtop++]=oms_alloc((size_t)1<<(oms_pick(&r)%7),&r); retain--; }
    if(oms_chance(66,&r) && dtop>0){ size_t i=oms_pick(&r)%dtop; oms_free(data[i]); data[i]=NULL; }
    if(oms_chance(25,&r) && dtop>0){ size_t i=oms_pick(&r)%dtop, j=oms_pick(&r)%1000; data[i]=atomic_exchange(&oms_t[j],data[i]); } }
  for(size_t i=0;i<rtop;i++) oms_free(ret[i]);
  for(size_t i=0;i<dtop;i++) oms_free(data[i]);
  free(ret); free(data); return NULL; }
static void p_omstress(void){
  long nt=oarg(0,2); oms_scale=oarg(1,50); long iter=oarg(2,25); uint64_t r=43*43;
  for(long n=0;n<iter;n++){ pthread_t *t=malloc(nt*sizeof *t); for(long i=1;i<nt;i++) pthread_create(&t[i],NULL,oms_stress,(void*)i); oms_stress(0); for(long i=1;i<nt;i++) pthread_join(t[i],NULL); free(t);
    for(int i=0;i<1000;i++) if(oms_chance(50,&r) || n+1==iter) oms_free(atomic_exchange(&oms_t[i],NULL)); } }

/* ogthread THREADS (bench.sh: 2): glibc's bench-malloc-thread. For 2 s
 * each thread replaces blocks of a working set of 1024 (offsets from a
 * table of 4096) by blocks of 4..32768 bytes drawn from a table of 8000
 * with density proportional to 1/size^2 (inverse square: the mean is
 * about 36 bytes), every byte written. rtime = 1e9 / iterations. */
static unsigned ogt_sz[8000], ogt_off[4096]; static volatile int ogt_stop;
static void ogt_alarm(int s){ (void)s; ogt_stop=1; }
static void *ogt_w(void *a){ void **ws=calloc(1024,sizeof *ws); unsigned os=0, bs=0; long it=0;
  while(!ogt_stop){ os= os>=4095? 0 : os+1; bs= bs>=7999? 0 : bs+1; unsigned k=ogt_off[os], s=ogt_sz[bs]; free(ws[k]); char *p=ws[k]=malloc(s); for(unsigned i=0;i<s;i++) p[i]=(char)i; it++; }
  for(int i=0;i<1024;i++) free(ws[i]);
  free(ws); *(long*)a=it; return NULL; }
static void p_ogthread(void){
  long nt=oarg(0,2); srand(88);
  for(int i=0;i<8000;i++){ double r=(double)rand()/RAND_MAX; ogt_sz[i]=(unsigned)(1.0/((1.0/32768-1.0/4)*r+1.0/4)); }
  for(int i=0;i<4096;i++) ogt_off[i]=(unsigned)(rand()%1024);
  signal(SIGALRM,ogt_alarm); alarm(2); pthread_t t[64]; long it[64], tot=0;
  for(long i=0;i<nt;i++) pthread_create(&t[i],NULL,ogt_w,&it[i]);
  for(long i=0;i<nt;i++){ pthread_join(t[i],NULL); tot+=it[i]; }
  printf("rtime: %.3f (%ld iterations)\n", 1e9/tot, tot); }

/* Session 30 (docs/programs.md, "Probes, session 30"): twelve more
 * classes of behaviour, each outside make bench and the probes above.
 * odd: 100k live objects whose sizes are one byte past a class boundary
 * (17, 33, ..., 4097, 8193, 16385, 32769, 65537), every page written,
 * 400k replaced at random. */
static void p_odd(void){
  static const size_t b[]={16,32,48,64,96,128,192,256,384,512,768,1024,1536,2048,3072,4096,6144,8192,12288,16384,24576,32768,65536};
  enum{N=100000}; static char *v[N];
  for(long i=0;i<400000;i++){ unsigned k=rnd()%N; free(v[k]); unsigned c=rnd()%23; if(c>=16 && rnd()%4) c=rnd()%16; size_t s=b[c]+1; v[k]=malloc(s); touch(v[k],s); }
  for(int k=0;k<N;k++) free(v[k]); }
/* big2m1: 2 MiB + 1 (and 1 MiB + 1, 4 MiB + 1) blocks, 16 live, 20000
 * replaced, the first and last page written (a buffer sized by a
 * power-of-two capacity plus a terminator). */
static void p_big2m1(void){
  char *k[16]={0};
  for(int r=0;r<20000;r++){ size_t s=((size_t)1<<(20+rnd()%3))+1; char*b=malloc(s); touch(b,4096); b[s-1]=1; sink+=b[0]; free(k[r&15]); k[r&15]=b; }
  for(int i=0;i<16;i++) free(k[i]); }
/* reallocpp: 8 buffers, each realloc'd between 64 B and 4 MiB by turns
 * (a message buffer grown for a big message, shrunk back), the first 64
 * bytes kept and checked, a page written in each 64 KiB when big. */
static void p_reallocpp(void){
  char *b[8]; for(int i=0;i<8;i++){ b[i]=malloc(64); memset(b[i],i,64); }
  for(int r=0;r<20000;r++){ int i=r&7; int big=(r>>3)&1; size_t s= big? ((size_t)2<<20)+rnd()%((size_t)2<<20) : 16+rnd()%112;
    b[i]=realloc(b[i],s); if(b[i][0]!=(char)i||b[i][15]!=(char)i) abort(); if(big) for(size_t o=0;o<s;o+=65536) ((volatile char*)b[i])[o+16]=1; }
  for(int i=0;i<8;i++) free(b[i]); }
/* callocreuse: calloc of 256 KiB..8 MiB, written whole, freed, 3000
 * times, 2 live: every calloc after the first few gets dirty memory back
 * and must zero it (or map fresh pages). */
static void p_callocreuse(void){
  char *k[2]={0};
  for(int r=0;r<3000;r++){ size_t s=((size_t)256<<10)<<(rnd()%6); s+=rnd()%s; char*b=calloc(1,s); if(b[s/2]||b[s-1]) abort(); memset(b,7,s); free(k[r&1]); k[r&1]=b; }
  free(k[0]); free(k[1]); }
/* memalignbig: 2000 live posix_memalign of 128 KiB..4 MiB alignments,
 * sizes 1 KB..200 KB, first and last byte written, 50k replaced. */
static void p_memalignbig(void){
  enum{N=2000}; static void *v[N];
  for(long i=0;i<50000;i++){ unsigned k=rnd()%N; free(v[k]); size_t al=(size_t)128<<(10+rnd()%6), n=1000+rnd()%200000;
    if(posix_memalign(&v[k],al,n)) abort();
    ((volatile char*)v[k])[0]=1; ((volatile char*)v[k])[n-1]=1; }
  for(int k=0;k<N;k++) free(v[k]); }
/* lifo: a stack of frames 16..2048 B pushed to a random depth 1..4000
 * and popped back to a random lower depth, 20M operations (a parser's or
 * an interpreter's frames). */
static void p_lifo(void){
  enum{D=4000}; static char *st[D]; long d=0;
  for(long i=0;i<10000000;){ long to=rnd()%D; while(d<to){ size_t s=16+rnd()%2033; st[d]=malloc(s); st[d][0]=(char)d; d++; i++; }
    long down=rnd()%(d+1); while(d>down){ d--; sink+=st[d][0]; free(st[d]); i++; } }
  while(d>0) free(st[--d]); }
/* gen: generational. 20M objects of 16..512 B; each lives in a nursery
 * of 2000 (dies young), 1 in 40 is promoted to an old set of 300k that
 * replaces a random old object (long-lived, scattered: the old set
 * fragments the runs the young die in). */
static void p_gen(void){
  enum{Y=2000,O=300000}; static char *y[Y], *o[O]; long no=0;
  for(long i=0;i<20000000;i++){ int k=i%Y; if(y[k]){ if(rnd()%40==0){ if(no<O) o[no++]=y[k]; else { long j=rnd()%O; free(o[j]); o[j]=y[k]; } } else free(y[k]); }
    size_t s=16+rnd()%497; y[k]=malloc(s); y[k][0]=1; y[k][s-1]=2; }
  for(int k=0;k<Y;k++) free(y[k]);
  for(long j=0;j<no;j++) free(o[j]); }
/* oversub THREADS (16): THREADS threads on the 2 cores, each 1M
 * replacements in a working set of 1000 objects of 16..1024 B, 1 in 8
 * swapped through 4096 shared slots (so freed by another thread). */
static _Atomic(char*) os_sh[4096];
static void *os_w(void*a){ rs=(uint64_t)(long)a*7919+13; char *v[1000]={0};
  for(long i=0;i<1000000;i++){ int k=rnd()%1000; free(v[k]); v[k]=malloc(16+rnd()%1009); v[k][0]=1; if(rnd()%8==0){ v[k]=atomic_exchange(&os_sh[rnd()%4096],v[k]); } }
  for(int k=0;k<1000;k++) free(v[k]);
  return NULL; }
static void p_oversub(void){
  int n=NT>2&&NT<=128?NT:16; pthread_t t[128];
  for(long i=0;i<n;i++) pthread_create(&t[i],NULL,os_w,(void*)i);
  for(int i=0;i<n;i++) pthread_join(t[i],NULL);
  for(int i=0;i<4096;i++) free(os_sh[i]); }
/* reqthreads: thread per request. 20000 detached threads, at most 8
 * alive; each reads a request into a 16..256 KiB buffer, builds 100
 * objects of 16..2048 B, and hands back a reply of 1..64 KiB that the
 * main thread frees. */
static sem_t rq_sem; static _Atomic(char*) rq_out[64];
static void *rq_w(void*a){ long id=(long)a; rs=id*2654435761u+1; size_t bs=(16u<<10)+rnd()%(240u<<10); char*buf=malloc(bs); touch(buf,bs);
  char*v[100]; for(int i=0;i<100;i++){ size_t s=16+rnd()%2033; v[i]=malloc(s); memcpy(v[i],buf+i,16); }
  size_t rsz=1+rnd()%65536; char*rep=malloc(rsz); touch(rep,rsz); for(int i=0;i<100;i++) free(v[i]);
  free(buf); free(atomic_exchange(&rq_out[id&63],rep)); sem_post(&rq_sem); return NULL; }
static void p_reqthreads(void){
  sem_init(&rq_sem,0,8); pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setdetachstate(&at,PTHREAD_CREATE_DETACHED);
  for(long r=0;r<20000;r++){ sem_wait(&rq_sem); free(atomic_exchange(&rq_out[(r+32)&63],NULL)); pthread_t t; if(pthread_create(&t,&at,rq_w,(void*)r)) abort(); }
  for(int i=0;i<8;i++) sem_wait(&rq_sem);
  for(int i=0;i<64;i++) free(rq_out[i]); }
/* oneforall THREADS (8): one thread allocates everything (32..512 B,
 * batches of 256), THREADS-1 workers take batches round robin and free
 * them; 8M objects. */
typedef struct { _Atomic(char**) slot[16]; char pad[64]; } ofa_q;
static ofa_q ofa[16]; static atomic_int ofa_done;
static void *ofa_w(void*a){ ofa_q*q=a; for(;;){ int got=0; for(int i=0;i<16;i++){ char**b=atomic_exchange(&q->slot[i],NULL); if(b){ got=1; for(int j=0;j<256;j++){ sink+=b[j][0]; free(b[j]); } free(b); } }
    if(!got){ if(atomic_load(&ofa_done)) { int any=0; for(int i=0;i<16;i++) any|=atomic_load(&q->slot[i])!=NULL; if(!any) return NULL; } sched_yield(); } } }
static void p_oneforall(void){
  int n=NT>1&&NT<=16?NT:8; n--; pthread_t t[16];
  for(long i=0;i<n;i++) pthread_create(&t[i],NULL,ofa_w,&ofa[i]);
  for(long r=0;r<8000000/256;r++){ char**b=malloc(256*sizeof *b); for(int j=0;j<256;j++){ b[j]=malloc(32+rnd()%481); b[j][0]=1; }
    ofa_q*q=&ofa[r%n]; for(;;){ int i; for(i=0;i<16;i++){ char**e=NULL; if(atomic_compare_exchange_strong(&q->slot[i],&e,b)) break; } if(i<16) break; sched_yield(); } }
  atomic_store(&ofa_done,1); for(int i=0;i<n;i++) pthread_join(t[i],NULL); }
/* sparsehuge: 60 blocks of 64..512 MiB, one page in 64 written (a hash
 * table or a sparse array sized for the worst case), 2 live. */
static void p_sparsehuge(void){
  char*k[2]={0};
  for(int r=0;r<60;r++){ size_t s=((size_t)64<<20)+rnd()%((size_t)448<<20); char*b=malloc(s); for(size_t o=(rnd()%64)*4096;o<s;o+=64*4096) ((volatile char*)b)[o]=1; free(k[r&1]); k[r&1]=b; }
  free(k[0]); free(k[1]); }
/* idleburst: 4 bursts of 80 MB of 16 B..64 KiB objects (log-uniform),
 * written, freed at the end of the burst, 1.5 s of sleep between them;
 * RSS (KiB) at the start and end of each sleep to stderr. Faults count
 * what the sleep gave back and the next burst took again. */
static void p_idleburst(void){
  for(int b=0;b<4;b++){ size_t tot=0, n=0, cap=1<<20; char**v=malloc(cap*sizeof *v);
    while(tot<(80u<<20)){ unsigned lg=4+rnd()%12; size_t s=((size_t)1<<lg)+rnd()%((size_t)1<<lg); v[n]=malloc(s); touch(v[n],s); tot+=s; n++; }
    for(size_t i=0;i<n;i++) free(v[i]);
    free(v); if(b==3) break;
    long a=statm_rss(); msleep(1500); fprintf(stderr,"idleburst: sleep %d rss %ld -> %ld KiB\n",b,a,statm_rss()); } }
/* Session 33 (docs/programs.md, "Programs, session 33"): classes the
 * probes above do not run. W() writes through volatile, as touch(). */
#define W(p,i) (((volatile char*)(p))[i]=1)
static void s33_run(int n, void*(*f)(void*)){ pthread_t t[256]; for(long i=0;i<n;i++) pthread_create(&t[i],0,f,(void*)i); for(int i=0;i<n;i++) pthread_join(t[i],0); }

/* usable: redis-style accounting: malloc_usable_size after every malloc and
 * before every free, 16..2048 B, 4096 live, 20M ops */
static void p_usable(void){
  enum{N=4096}; char*v[N]={0}; size_t used=0;
  for(long i=0;i<10000000;i++){ int k=rnd()%N; if(v[k]){ used-=malloc_usable_size(v[k]); free(v[k]); }
    size_t s=16+rnd()%2033; v[k]=malloc(s); used+=malloc_usable_size(v[k]); W(v[k],0); }
  for(int k=0;k<N;k++){ if(v[k]) used-=malloc_usable_size(v[k]); free(v[k]); }
  sink+=used; }
/* usablegrow: sds-style: a string grown to malloc_usable_size, realloc only when full */
static void p_usablegrow(void){
  enum{N=20000}; char**v=calloc(N,sizeof*v);
  for(int r=0;r<8;r++) for(int k=0;k<N;k++){ size_t len=0,cap=0; char*b=NULL; size_t tgt=64<<(rnd()%8);
      while(len<tgt){ size_t a=1+rnd()%16; if(len+a>cap){ b=realloc(b,len+a); cap=malloc_usable_size(b);} memset(b+len,'x',a); len+=a; }
      free(v[k]); v[k]=b; }
  for(int k=0;k<N;k++) free(v[k]); free(v); }
/* pipe4: a 4-stage pipeline; stage 0 mallocs 16..1024 B, stage 1 reallocs
 * to 2x, stage 2 frees and mallocs another of 16..512, stage 3 frees.
 * Batches of 64 passed through mutex+cond queues. */
#define S33QN 64
typedef struct { pthread_mutex_t m; pthread_cond_t c; void**b[S33QN]; int h,t,n; } s33q_t;
static s33q_t S33Q[4];
static void s33_put(s33q_t*q, void**b){ pthread_mutex_lock(&q->m); while(q->n==S33QN) pthread_cond_wait(&q->c,&q->m); q->b[q->t]=b; q->t=(q->t+1)%S33QN; q->n++; pthread_cond_broadcast(&q->c); pthread_mutex_unlock(&q->m); }
static void**s33_get(s33q_t*q){ pthread_mutex_lock(&q->m); while(q->n==0) pthread_cond_wait(&q->c,&q->m); void**b=q->b[q->h]; q->h=(q->h+1)%S33QN; q->n--; pthread_cond_broadcast(&q->c); pthread_mutex_unlock(&q->m); return b; }
#define S33B 64
#define S33NB 30000
static void*s33_stage(void*a){ long id=(long)a; rs+=id*7777;
  for(long i=0;i<S33NB;i++){
    void**b;
    if(id==0){ b=malloc(S33B*sizeof(void*)); for(int j=0;j<S33B;j++){ size_t s=16+rnd()%1009; char*p=malloc(s); p[0]=(char)s; b[j]=p; } s33_put(&S33Q[1],b); }
    else if(id==1){ b=s33_get(&S33Q[1]); for(int j=0;j<S33B;j++){ char*p=b[j]; size_t s=32+rnd()%2000; p=realloc(p,s); W(p,s-1); b[j]=p; } s33_put(&S33Q[2],b); }
    else if(id==2){ b=s33_get(&S33Q[2]); for(int j=0;j<S33B;j++){ sink+=((char*)b[j])[0]; free(b[j]); b[j]=malloc(16+rnd()%497); W(b[j],0); } s33_put(&S33Q[3],b); }
    else { b=s33_get(&S33Q[3]); for(int j=0;j<S33B;j++) free(b[j]); free(b); }
  } return 0; }
static void p_pipe4(void){ for(int i=0;i<4;i++){ pthread_mutex_init(&S33Q[i].m,0); pthread_cond_init(&S33Q[i].c,0);} s33_run(4,s33_stage); }
/* xrealloc: thread A mallocs 16..4096, thread B reallocs each (grow 1.5x or shrink 0.5x), then frees. Through a pipe4-like 2-s33_stage. */
static void*s33_xr(void*a){ long id=(long)a; rs+=id*31;
  for(long i=0;i<S33NB*2;i++){ void**b;
    if(id==0){ b=malloc(S33B*sizeof(void*)); for(int j=0;j<S33B;j++){ size_t s=16+rnd()%4081; char*p=malloc(s); W(p,0); b[j]=p;} s33_put(&S33Q[1],b); }
    else { b=s33_get(&S33Q[1]); for(int j=0;j<S33B;j++){ char*p=b[j]; size_t s=(rnd()&1)? 16+rnd()%6000 : 8+rnd()%100; p=realloc(p,s); W(p,s-1); free(p);} free(b);} }
  return 0; }
static void p_xrealloc(void){ for(int i=0;i<4;i++){ pthread_mutex_init(&S33Q[i].m,0); pthread_cond_init(&S33Q[i].c,0);} s33_run(2,s33_xr); }
/* callocsmall: calloc of 16..4096 B, 8192 live, 10M replaced; each read at one byte */
static void p_callocsmall(void){
  enum{N=8192}; char*v[N]={0};
  for(long i=0;i<4000000;i++){ int k=rnd()%N; free(v[k]); size_t s=16+rnd()%4081; v[k]=calloc(1,s); sink+=v[k][s/2]; }
  for(int k=0;k<N;k++) free(v[k]); }
/* callocmed: calloc of 4..64 KiB, 64 live, 400k replaced, read one byte per page */
static void p_callocmed(void){
  enum{N=64}; char*v[N]={0};
  for(long i=0;i<400000;i++){ int k=rnd()%N; free(v[k]); size_t s=4096+rnd()%61441; v[k]=calloc(1,s); for(size_t o=0;o<s;o+=4096) sink+=v[k][o]; W(v[k],0); }
  for(int k=0;k<N;k++) free(v[k]); }
/* server: a live set growing slowly from 0 to ~150 MB of 16 B..16 KiB
 * (log-uniform), 1 in 3 frees; every 200k ops a spike of 40 MB of
 * 64 B..64 KiB temporaries, all freed. RSS at the end to stderr. */
static void p_server(void){
  size_t cap=4<<20,n=0; char**v=malloc(cap*sizeof*v); long ops=0;
  for(int ph=0;ph<15;ph++){
    for(int i=0;i<100000;i++,ops++){ if(n && rnd()%3==0){ size_t k=rnd()%n; free(v[k]); v[k]=v[--n]; }
      unsigned lg=4+rnd()%7; size_t s=((size_t)1<<lg)+rnd()%((size_t)1<<lg); char*p=malloc(s); touch(p,s); if(n<cap) v[n++]=p; else free(p); }
    size_t tot=0,m=0; char**t=malloc(2000000*sizeof*t);
    while(tot<(40u<<20)){ unsigned lg=6+rnd()%10; size_t s=((size_t)1<<lg)+rnd()%((size_t)1<<lg); t[m]=malloc(s); touch(t[m],s); tot+=s; m++; }
    for(size_t i=0;i<m;i++) free(t[i]); free(t);
  }
  FILE*f=fopen("/proc/self/statm","r"); long a,b; fscanf(f,"%ld %ld",&a,&b); fclose(f); fprintf(stderr,"server end rss %ld KiB live %zu\n",b*4,n);
  for(size_t i=0;i<n;i++) free(v[i]); free(v); }
/* strgrow1: 200 strings each grown by 1 B from 0 to 64 KiB..1 MiB, one at a time */
static void p_strgrow1(void){
  for(int r=0;r<200;r++){ size_t tgt=65536u<<(rnd()%5); char*b=NULL; for(size_t l=1;l<=tgt;l++){ b=realloc(b,l); b[l-1]='a'; } sink+=b[tgt/2]; free(b); } }
/* shrink: read into a 64 KiB buffer, realloc down to 100..4000 B, keep 20000 live, replaced 400k times */
static void p_shrink(void){
  enum{N=20000}; char*v[N]={0};
  for(long i=0;i<400000;i++){ int k=rnd()%N; free(v[k]); char*b=malloc(65536); size_t s=100+rnd()%3901; memset(b,'y',s); v[k]=realloc(b,s); }
  for(int k=0;k<N;k++) free(v[k]); }
/* shrinkbig: 1 MiB buffer shrunk to 10..200 KB, 300 live */
static void p_shrinkbig(void){
  enum{N=300}; char*v[N]={0};
  for(long i=0;i<30000;i++){ int k=rnd()%N; free(v[k]); char*b=malloc(1<<20); size_t s=10000+rnd()%190000; touch(b,s); v[k]=realloc(b,s); }
  for(int k=0;k<N;k++) free(v[k]); }
/* pagealignsmall: posix_memalign(4096, 16..512), 20000 live, 200k replaced */
static void p_pagealignsmall(void){
  enum{N=20000}; void*v[N]={0};
  for(long i=0;i<2000000;i++){ int k=rnd()%N; free(v[k]); size_t s=16+rnd()%497; posix_memalign(&v[k],4096,s); W(v[k],0); }
  for(int k=0;k<N;k++) free(v[k]); }
/* simd: aligned_alloc(32/64, 32..8192 multiple) 4096 live, 5M replaced */
static void p_simd(void){
  enum{N=4096}; void*v[N]={0};
  for(long i=0;i<5000000;i++){ int k=rnd()%N; free(v[k]); size_t al=(rnd()&1)?32:64; size_t s=al*(1+rnd()%128); v[k]=aligned_alloc(al,s); W(v[k],0); }
  for(int k=0;k<N;k++) free(v[k]); }
/* burst64: 64 threads, 50 rounds each: burst of 500 allocs 16..4096 freed, then usleep(2000) */
static void*s33_b64(void*a){ rs+=(long)a*99; char*v[500];
  for(int r=0;r<50;r++){ for(int i=0;i<500;i++){ size_t s=16+rnd()%4081; v[i]=malloc(s); v[i][0]=1; } for(int i=0;i<500;i++) free(v[i]); usleep(2000);} return 0; }
static void p_burst64(void){ s33_run(64,s33_b64); }
/* boundary: sizes of class+1 for big classes: 4097,8193,16385,32769,65537,131073,1MiB+1; 2000 live, 200k replaced, first and last page written */
static void p_boundary(void){
  static const size_t S[]={4097,8193,16385,32769,65537,131073,262145,(1<<20)+1};
  enum{N=2000}; char*v[N]={0};
  for(long i=0;i<2000000;i++){ int k=rnd()%N; free(v[k]); size_t s=S[rnd()%(i%8==7?8:7)]; char*p=malloc(s); W(p,0); W(p,s-1); v[k]=p; }
  for(int k=0;k<N;k++) free(v[k]); }
/* reallocsame: realloc to the same or slightly smaller size (no-ops), 5M */
static void p_reallocsame(void){
  enum{N=4096}; char*v[N]={0}; for(int k=0;k<N;k++) v[k]=malloc(16+rnd()%2000);
  for(long i=0;i<20000000;i++){ int k=rnd()%N; size_t u=malloc_usable_size(v[k]); v[k]=realloc(v[k],u - (rnd()%4)); }
  for(int k=0;k<N;k++) free(v[k]); }

/* buf64: a buffer of 32 KiB + 1 to 64 KiB (an I/O or compression buffer)
 * malloc'd, its first and last bytes written, and freed, 4 live, 1M
 * times, after a small malloc (a thread's cache boots at its first small
 * one, as in any program that has used stdio or a string first). */
static void p_buf64(void){
  char *v[4]={0}; char *volatile q=malloc(16); free(q);
  for(long i=0;i<1000000;i++){ int k=i&3; free(v[k]); size_t s=32769+rnd()%32768; v[k]=malloc(s); W(v[k],0); W(v[k],s-1); }
  for(int k=0;k<4;k++) free(v[k]); }
/* Session 34 (docs/programs.md, "Programs, session 34"). */
/* rehash: 4 chained hash tables of 16..64 B nodes, each grown to 256k..768k
 * entries by calloc of a bucket array twice as large (up to 8 MiB) and
 * the old one freed once the nodes are moved; destroyed and built again,
 * 3 rounds. calloc of big arrays between live small objects. */
typedef struct s34n { struct s34n *next; uint64_t key; } s34n_t;
static void p_rehash(void){
  for(int r=0;r<3;r++){
    enum{T=4}; s34n_t **tab[T]; size_t nb[T], n[T], goal[T];
    for(int t=0;t<T;t++){ nb[t]=1024; tab[t]=calloc(nb[t],sizeof *tab[t]); n[t]=0; goal[t]=(1+rnd()%3)<<18; }
    for(int live=T; live;){ live=0;
      for(int t=0;t<T;t++){ if(n[t]>=goal[t]) continue; live++;
        for(int k=0;k<4096 && n[t]<goal[t];k++){ uint64_t key=rnd(); size_t sz=sizeof(s34n_t)+rnd()%49; s34n_t*e=malloc(sz); e->key=key; W(e,sz-1);
          size_t b=key&(nb[t]-1); e->next=tab[t][b]; tab[t][b]=e; n[t]++;
          if(n[t]>nb[t]){ size_t m=nb[t]*2; s34n_t**nt=calloc(m,sizeof *nt);
            for(size_t i=0;i<nb[t];i++) for(s34n_t*x=tab[t][i],*y;x;x=y){ y=x->next; size_t c=x->key&(m-1); x->next=nt[c]; nt[c]=x; }
            free(tab[t]); tab[t]=nt; nb[t]=m; } } } }
    for(int t=0;t<T;t++){ for(size_t i=0;i<nb[t];i++) for(s34n_t*x=tab[t][i],*y;x;x=y){ y=x->next; sink+=x->key&1; free(x); } free(tab[t]); }
  } }
/* vecusable: Rust/C++-style vectors: 16 vectors of 8..64 B elements, one
 * element pushed at a time round robin; when full, realloc to twice the
 * capacity and the capacity taken from malloc_usable_size; each grows to
 * 1K..256K elements (up to 16 MiB), is freed and started again; 60M pushes. */
static void p_vecusable(void){
  enum{V=16}; char*p[V]={0}; size_t len[V]={0},cap[V]={0},el[V],goal[V];
  for(int v=0;v<V;v++){ el[v]=8u<<(rnd()%4); goal[v]=1024u<<(rnd()%9); }
  for(long i=0;i<60000000;i++){ int v=i%V;
    if(len[v]==cap[v]){ size_t want=cap[v]?cap[v]*2:4; p[v]=realloc(p[v],want*el[v]); cap[v]=malloc_usable_size(p[v])/el[v]; }
    W(p[v],len[v]*el[v]); len[v]++;
    if(len[v]>=goal[v]){ sink+=p[v][0]; free(p[v]); p[v]=NULL; len[v]=cap[v]=0; el[v]=8u<<(rnd()%4); goal[v]=1024u<<(rnd()%9); } }
  for(int v=0;v<V;v++) free(p[v]); }
/* strjoin: strdup-heavy string building: 200k keys strdup'd from tokens
 * of 3..40 characters kept in a table; each of 1M lines joined from 2..12
 * tokens by malloc(len + len + 2), copy, free of the old; 3..40 bytes of
 * the line strndup'd into the table in place of a random key. Exact sizes
 * (strlen + 1), few multiples of 8. */
static void p_strjoin(void){
  enum{K=200000}; char**key=calloc(K,sizeof*key); char tok[64];
  for(int k=0;k<K;k++){ int l=3+rnd()%38; for(int j=0;j<l;j++) tok[j]='a'+rnd()%26; tok[l]=0; key[k]=strdup(tok); }
  for(long i=0;i<1000000;i++){ int nt=2+rnd()%11; char*line=strdup(key[rnd()%K]); size_t ll=strlen(line);
    for(int t=1;t<nt;t++){ const char*w=key[rnd()%K]; size_t wl=strlen(w); char*n=malloc(ll+wl+2); memcpy(n,line,ll); n[ll]=' '; memcpy(n+ll+1,w,wl+1); free(line); line=n; ll+=wl+1; }
    int k=rnd()%K; free(key[k]); key[k]=strndup(line+ll/3, 3+ll%38); sink+=line[0]; free(line); }
  for(int k=0;k<K;k++) free(key[k]); free(key); }
/* drift: a long-lived process whose object sizes drift: 8M operations,
 * the size around 16 B at the start and 8 KiB at the end (log scale,
 * spread of x2), each object dying within ~2000 operations except 1 in 100
 * kept to the end. Every class's runs keep a few long-lived objects once
 * the program has moved on; live bytes at the end to stderr. */
static void p_drift(void){
  enum{Y=2048}; char*young[Y]={0}; size_t ncap=1<<20,nold=0,oldb=0; char**old=malloc(ncap*sizeof*old); long N=8000000;
  for(long i=0;i<N;i++){ double x=9.0*i/N; int e=(int)x; size_t base=(size_t)((16u<<e)*(1.0+(x-e))); size_t s=base+rnd()%(base+1);
    char*p=malloc(s); W(p,0); W(p,s-1);
    if(rnd()%100==0 && nold<ncap){ old[nold++]=p; oldb+=s; continue; }
    int k=rnd()%Y; free(young[k]); young[k]=p; }
  for(int k=0;k<Y;k++) free(young[k]);
  FILE*f=fopen("/proc/self/statm","r"); long a,b; if(f&&fscanf(f,"%ld %ld",&a,&b)==2) fprintf(stderr,"drift: live %zu KiB in %zu objects, rss %ld KiB\n",oldb>>10,nold,b*4); if(f) fclose(f);
  for(size_t i=0;i<nold;i++) free(old[i]); free(old); }
/* threadbufs: thread churn with buffers: 4000 threads, 8 alive at a
 * time, each a task that takes 20 buffers of 16 KiB..1 MiB (log-uniform,
 * first and last page written) and 200 objects of 16..512 B, frees them
 * and exits: a thread's large cache and arena given back at its exit. */
static void*s34_tb(void*a){ rs+=(uintptr_t)a*131; char*b[20]; char*o[200];
  for(int i=0;i<20;i++){ size_t s=(size_t)16384<<(rnd()%7); s+=rnd()%s; b[i]=malloc(s); W(b[i],0); W(b[i],s-1); }
  for(int i=0;i<200;i++){ size_t s=16+rnd()%497; o[i]=malloc(s); W(o[i],0); }
  for(int i=0;i<200;i++) free(o[i]);
  for(int i=0;i<20;i++) free(b[i]);
  return 0; }
static void p_threadbufs(void){
  for(long w=0;w<500;w++){ pthread_t t[8]; for(long i=0;i<8;i++) pthread_create(&t[i],0,s34_tb,(void*)(w*8+i)); for(int i=0;i<8;i++) pthread_join(t[i],0); } }

/* tdphases: teardown's loops timed apart (docs/measurements.md, "teardown's
 * free loop, session 33"): per thread (NT, 2 by default) 1M objects of
 * TD_LO..16 B (1 by default) allocated, the index shuffled, each object's
 * first byte read and the object freed in that order, 2 rounds; prints the
 * thread CPU seconds of the three loops summed over the threads. Knobs
 * (environment): TD_NOFREE=1 reads without freeing (the loop's floor: the
 * program's own misses); TD_PAD_LOADS=n, TD_PAD_STORES=n, TD_PAD_NOPS=n add
 * n hot loads, n hot stores or 4n nops after each free (what an allocator's
 * few more instructions or loads cost this loop: it is bound by how many
 * iterations the processor keeps in flight, not by free's own time). */
static volatile long td_pad[64];
static int td_lo=1, td_nofree, td_ld, td_st, td_nop;
static double td_t[3]; static pthread_mutex_t td_mu=PTHREAD_MUTEX_INITIALIZER;
static double td_now(void){ struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t); return t.tv_sec+t.tv_nsec*1e-9; }
static void *td_work(void*arg){
  long n=1000000; rs=(uintptr_t)arg*7919+11; double t[3]={0};
  unsigned char **obj=malloc(n*sizeof *obj); unsigned char *size=malloc(n); uint32_t *order=malloc(n*sizeof *order);
  for(int r=0;r<2;r++){
    double t0=td_now();
    for(long i=0;i<n;i++){ size[i]=(unsigned char)(td_lo+rnd()%(17-td_lo)); obj[i]=malloc(size[i]); obj[i][0]=(unsigned char)i; order[i]=(uint32_t)i; }
    double t1=td_now();
    for(long i=n-1;i>0;i--){ long j=(long)(rnd()%(uint64_t)(i+1)); uint32_t x=order[i]; order[i]=order[j]; order[j]=x; }
    double t2=td_now();
    for(long k=0;k<n;k++){ uint32_t i=order[k]; if(obj[i][0]!=(unsigned char)i) abort(); if(!td_nofree) free(obj[i]);
      for(int z=0;z<td_ld;z++) sink+=td_pad[z];
      for(int z=0;z<td_st;z++) td_pad[32+z]=k;
      for(int z=0;z<td_nop;z++) __asm__ volatile("nop\n\tnop\n\tnop\n\tnop"); }
    double t3=td_now(); t[0]+=t1-t0; t[1]+=t2-t1; t[2]+=t3-t2;
    if(td_nofree) for(long i=0;i<n;i++) free(obj[i]);
  }
  free(obj); free(size); free(order);
  pthread_mutex_lock(&td_mu); for(int k=0;k<3;k++) td_t[k]+=t[k]; pthread_mutex_unlock(&td_mu);
  return NULL;
}
static void p_tdphases(void){
  const char*e; int n=g_argc>2?NT:2; pthread_t t[64]; if(n>64) n=64;
  if((e=getenv("TD_LO"))) td_lo=atoi(e);
  if(td_lo<1||td_lo>16) td_lo=1;
  td_nofree=getenv("TD_NOFREE")!=NULL;
  if((e=getenv("TD_PAD_LOADS"))) td_ld=atoi(e);
  if((e=getenv("TD_PAD_STORES"))) td_st=atoi(e);
  if((e=getenv("TD_PAD_NOPS"))) td_nop=atoi(e);
  if(td_ld>32) td_ld=32;
  if(td_st>32) td_st=32;
  for(long i=0;i<n;i++) pthread_create(&t[i],NULL,td_work,(void*)i);
  for(int i=0;i<n;i++) pthread_join(t[i],NULL);
  fprintf(stderr,"tdphases: alloc %.3f shuffle %.3f free %.3f s\n",td_t[0],td_t[1],td_t[2]); }
/* Session 35 (docs/measurements.md, "Workloads no probe had run"). */
/* peakregrow: a peak of 1.6M objects of 1..16 B and odd sizes (24, 40,
 * 72, 100, 200 B), 90% freed in random order, then a second phase of
 * 120k objects of 400..1100 B (about 90 MB) while the 10% live on: can
 * the holes of the first phase hold the second? glibc's coalescing
 * free lists can; a size-segregated heap reuses only emptied pages. */
static const unsigned s35_odd[]={24,40,72,100,200};
static size_t s35_sz(void){ return rnd()%2? 1+rnd()%16 : s35_odd[rnd()%5]; }
static void p_peakregrow(void){
  size_t n=1600000; char**v=malloc(n*sizeof*v);
  for(size_t i=0;i<n;i++){ size_t s=s35_sz(); v[i]=malloc(s); W(v[i],0); W(v[i],s-1); }
  for(size_t i=n-1;i>0;i--){ size_t j=rnd()%(i+1); char*t=v[i]; v[i]=v[j]; v[j]=t; }
  for(size_t i=0;i<n*9/10;i++){ free(v[i]); v[i]=NULL; }
  fprintf(stderr,"peakregrow: after the free rss %ld KiB\n",statm_rss());
  size_t m=120000; char**u=malloc(m*sizeof*u);
  for(size_t i=0;i<m;i++){ size_t s=400+rnd()%701; u[i]=malloc(s); memset(u[i],1,s); }
  fprintf(stderr,"peakregrow: after the regrowth rss %ld KiB\n",statm_rss());
  for(size_t i=0;i<m;i++) free(u[i]);
  for(size_t i=n*9/10;i<n;i++) free(v[i]);
  free(u); free(v); }
/* tinyodd: 1M live objects, half 1..16 B, half 24, 40, 72, 100 or
 * 200 B, 4M replaced at random slots, each written at both ends. */
static void p_tinyodd(void){
  size_t n=1u<<20; char**v=calloc(n,sizeof*v);
  for(long i=0;i<4000000;i++){ size_t k=rnd()&(n-1); free(v[k]); size_t s=s35_sz(); v[k]=malloc(s); W(v[k],0); W(v[k],s-1); }
  for(size_t k=0;k<n;k++) free(v[k]);
  free(v); }
/* idlethreads THREADS (48): a pool of THREADS threads of which 6 at a
 * time wake for a task (2000 objects of 16 B..8 KiB, log-uniform, written
 * at both ends, all freed) and sleep again: 1500 tasks. What the sleeping
 * threads' caches hold is the peak RSS above the 6 working sets. */
static pthread_mutex_t it_mu=PTHREAD_MUTEX_INITIALIZER; static pthread_cond_t it_cv=PTHREAD_COND_INITIALIZER, it_done=PTHREAD_COND_INITIALIZER;
static int it_go[128], it_busy, it_stop;
static void *it_w(void*a){ long id=(long)a; rs=(uint64_t)id*2654435761u+7; char*v[2000];
  for(;;){ pthread_mutex_lock(&it_mu); while(!it_go[id]&&!it_stop) pthread_cond_wait(&it_cv,&it_mu); if(!it_go[id]){ pthread_mutex_unlock(&it_mu); return NULL; } pthread_mutex_unlock(&it_mu);
    for(int i=0;i<2000;i++){ unsigned lg=4+rnd()%9; size_t s=((size_t)1<<lg)+rnd()%((size_t)1<<lg); v[i]=malloc(s); W(v[i],0); W(v[i],s-1); }
    for(int i=0;i<2000;i++) free(v[i]);
    pthread_mutex_lock(&it_mu); it_go[id]=0; it_busy--; pthread_cond_signal(&it_done); pthread_mutex_unlock(&it_mu); } }
static void p_idlethreads(void){
  int n=NT>6&&NT<=128?NT:48; pthread_t t[128];
  for(long i=0;i<n;i++) pthread_create(&t[i],NULL,it_w,(void*)i);
  for(int k=0;k<1500;k++){ pthread_mutex_lock(&it_mu); while(it_busy>=6) pthread_cond_wait(&it_done,&it_mu);
    int id; do id=rnd()%n; while(it_go[id]); it_go[id]=1; it_busy++; pthread_cond_broadcast(&it_cv); pthread_mutex_unlock(&it_mu); }
  pthread_mutex_lock(&it_mu); while(it_busy) pthread_cond_wait(&it_done,&it_mu); it_stop=1; pthread_cond_broadcast(&it_cv); pthread_mutex_unlock(&it_mu);
  for(int i=0;i<n;i++) pthread_join(t[i],NULL); }
/* xfree THREADS (32): every thread mallocs 16..512 B and pushes each
 * object to a random other thread's inbox (a lock-free stack); every 64
 * objects it frees what its own inbox holds: all frees cross-thread,
 * among THREADS threads on the 2 cores. 50k objects a thread. */
typedef struct xf_node { struct xf_node *next; } xf_node;
static _Atomic(xf_node*) xf_box[128]; static int xf_n;
static long xf_drain(int id){ long c=0; xf_node*p=atomic_exchange(&xf_box[id],NULL); while(p){ xf_node*nx=p->next; free(p); p=nx; c++; } return c; }
static void *xf_w(void*a){ int id=(int)(long)a; rs=(uint64_t)id*7919+3;
  for(long i=0;i<50000;i++){ xf_node*p=malloc(16+rnd()%497); int to=(int)(rnd()%(xf_n-1)); if(to>=id) to++;
    xf_node*o=atomic_load(&xf_box[to]); do p->next=o; while(!atomic_compare_exchange_weak(&xf_box[to],&o,p));
    if((i&63)==63) xf_drain(id); }
  return NULL; }
static void p_xfree(void){
  xf_n=NT>2&&NT<=128?NT:32; pthread_t t[128];
  for(long i=0;i<xf_n;i++) pthread_create(&t[i],NULL,xf_w,(void*)i);
  for(int i=0;i<xf_n;i++) pthread_join(t[i],NULL);
  for(int i=0;i<xf_n;i++) xf_drain(i); }
/* orphanfree THREADS (16): 3 rounds; in each THREADS threads malloc
 * 100k objects of 16..256 B (written) and exit; the main thread frees
 * them all, in random order, after the joins: frees into the caches and
 * arenas of threads that are gone, and the next round's threads start
 * on what they left. */
static void *of_w(void*a){ char**v=a; for(int i=0;i<100000;i++){ size_t s=16+rnd()%241; v[i]=malloc(s); W(v[i],0); W(v[i],s-1); } return NULL; }
static void p_orphanfree(void){
  int n=NT>1&&NT<=128?NT:16; pthread_t t[128]; size_t tot=(size_t)n*100000; char**v=malloc(tot*sizeof*v);
  for(int r=0;r<3;r++){ for(long i=0;i<n;i++) pthread_create(&t[i],NULL,of_w,v+i*100000); for(int i=0;i<n;i++) pthread_join(t[i],NULL);
    for(size_t i=tot-1;i>0;i--){ size_t j=rnd()%(i+1); char*x=v[i]; v[i]=v[j]; v[j]=x; }
    for(size_t i=0;i<tot;i++) free(v[i]); }
  free(v); }
/* callocsparse: calloc of 128 KiB..4 MiB (log-uniform), one page in 16
 * written, 32 live, 8000 replaced: a reused block must be zeroed whole
 * (or its pages given back and faulted again), a fresh one is zero. */
static void p_callocsparse(void){
  enum{K=32}; char*v[K]={0};
  for(long i=0;i<8000;i++){ int k=rnd()%K; free(v[k]); unsigned lg=17+rnd()%5; size_t s=((size_t)1<<lg)+rnd()%((size_t)1<<lg);
    char*p=calloc(1,s); for(size_t o=0;o<s;o+=65536){ if(p[o]) abort(); W(p,o); } v[k]=p; }
  for(int k=0;k<K;k++) free(v[k]); }
/* vec15: 32 vectors grown by a factor of 1.5 (folly, MSVC) from 16 B to
 * 4 KiB..8 MiB each, round robin (a push of 8 B at a time, a realloc
 * when full, the new half's pages written), freed when done and started
 * again: 400 vectors. */
static void p_vec15(void){
  enum{K=32}; char*b[K]={0}; size_t len[K]={0},cap[K]={0},tgt[K]={0}; int done=0;
  for(int k=0;k<K;k++) tgt[k]=(size_t)4096<<(rnd()%12);
  while(done<400){ for(int k=0;k<K;k++){ if(len[k]+8>cap[k]){ size_t nc=cap[k]? cap[k]+cap[k]/2 : 16; b[k]=realloc(b[k],nc); for(size_t o=(cap[k]+4095)&~(size_t)4095;o<nc;o+=4096) W(b[k],o); cap[k]=nc; }
      memset(b[k]+len[k],1,8); len[k]+=8;
      if(len[k]>=tgt[k]){ sink+=b[k][len[k]-1]; free(b[k]); b[k]=NULL; len[k]=cap[k]=0; tgt[k]=(size_t)4096<<(rnd()%12); done++; } } }
  for(int k=0;k<K;k++) free(b[k]); }
/* hugethreads THREADS (8): each thread keeps 4 buffers of 1..16 MiB and
 * replaces one at a time, 400 times, the first and last page and one in
 * 8 written: the huge regions' cache and lock shared by threads. */
static void *ht_w(void*a){ rs=(uint64_t)(long)a*7919+11; char*v[4]={0};
  for(int i=0;i<400;i++){ int k=i&3; free(v[k]); size_t s=((size_t)1<<20)+rnd()%(15u<<20); char*p=malloc(s); for(size_t o=0;o<s;o+=32768) W(p,o); W(p,s-1); v[k]=p; }
  for(int k=0;k<4;k++) free(v[k]);
  return NULL; }
static void p_hugethreads(void){
  int n=NT>1&&NT<=128?NT:8; pthread_t t[128];
  for(long i=0;i<n;i++) pthread_create(&t[i],NULL,ht_w,(void*)i);
  for(int i=0;i<n;i++) pthread_join(t[i],NULL); }
/* hugethensmall: 16 buffers of 4..12 MiB written whole and freed, then
 * 1.5M objects of 16..128 B live (about 110 MB): are the freed huge
 * regions' pages still resident under the small heap? smallthenhuge:
 * the reverse order (1.5M small objects freed, then the buffers). */
static void s35_bufs(void){ char*v[16]; for(int i=0;i<16;i++){ size_t s=((size_t)4<<20)+rnd()%(8u<<20); v[i]=malloc(s); memset(v[i],1,s); } for(int i=0;i<16;i++) free(v[i]); }
static char **s35_small(size_t n){ char**v=malloc(n*sizeof*v); for(size_t i=0;i<n;i++){ size_t s=16+rnd()%113; v[i]=malloc(s); memset(v[i],1,s); } return v; }
static void s35_free(char**v,size_t n){ for(size_t i=0;i<n;i++) free(v[i]); free(v); }
static void p_hugethensmall(void){ s35_bufs(); fprintf(stderr,"hugethensmall: rss %ld KiB\n",statm_rss()); s35_free(s35_small(1500000),1500000); }
static void p_smallthenhuge(void){ s35_free(s35_small(1500000),1500000); fprintf(stderr,"smallthenhuge: rss %ld KiB\n",statm_rss()); s35_bufs(); }
static long maps_lines(void){ FILE*f=fopen("/proc/self/maps","r"); long n=0; int c; if(!f) return -1; while((c=getc(f))!=EOF) n+=c=='\n'; fclose(f); return n; }
/* session 36. hugemid: 20,000 slots replaced at random 200,000 times, a
 * third each of 16..4 KB, 4 KB..1 MiB and 2..8 MiB (each written at its
 * ends and middle): a heap of many dirty runs, none a whole chunk, beside
 * a stream of fresh huge mappings (docs/measurements.md, "Odd programs and
 * patterns"). */
static void p_hugemid(void){ enum{N=20000}; char **v=calloc(N,sizeof*v);
  for(int i=0;i<200000;i++){ int k=rnd()%N; free(v[k]); unsigned r=rnd();
    size_t n= r%3==0 ? (2u<<20)+(r>>4)%(6u<<20) : r%3==1 ? 4096+(r>>4)%(1u<<20) : 16+(r>>4)%4000;
    v[k]=malloc(n); v[k][0]=1; v[k][n-1]=2; if(n>8192) v[k][n/2]=3; sink+=v[k][0]; }
  fprintf(stderr,"hugemid: %ld maps lines\n",maps_lines());
  for(int k=0;k<N;k++) free(v[k]); free(v); }
/* session 37. manyhuge [N [SIZE]]: N (40,000) live regions of SIZE bytes
 * (2 MiB, the smallest huge size), a byte written in each, then all freed:
 * prints how many were had before the first failure, its errno, and the
 * lines of /proc/self/maps at the peak. One kernel mapping a region meets
 * vm.max_map_count (65,530) near 65,000 live regions: a program with that
 * many fails (ENOMEM) where the anchors carve them from larger mappings
 * (docs/measurements.md, session 37). */
static void p_manyhuge(void){ long n=oarg(0,40000); size_t s=(size_t)oarg(1,2<<20); char**v=calloc(n,sizeof*v); long got=0; int e=0;
  for(;got<n;got++){ errno=0; v[got]=malloc(s); if(!v[got]){ e=errno; break; } v[got][0]=1; }
  long m=maps_lines();
  printf("manyhuge: %ld of %ld regions of %zu B live, errno %d (%s), %ld maps lines\n",got,n,s,e,e?strerror(e):"none",m);
  fprintf(stderr,"manyhuge: %ld of %ld, maps %ld\n",got,n,m);
  for(long i=0;i<got;i++) free(v[i]); free(v); }
/* session 37. hugechurn [N [STEPS]]: N (40,000) live regions of 2..8 MiB,
 * a byte written at each end, replaced at random STEPS (400,000) times;
 * prints the mappings (/proc/self/maps lines) every 100,000 steps and at
 * the end, and the failures. Moves of pages between regions (mremap)
 * made each piece a mapping of its own: 65,526 at the end, the default
 * vm.max_map_count, where munmap failed (docs/measurements.md, session
 * 37). */
static void p_hugechurn(void){ long n=oarg(0,40000), it=oarg(1,400000); char**v=calloc(n,sizeof*v); long fails=0; int e=0;
  for(long i=0;i<n+it;i++){ long k= i<n? i : (long)(rnd()%n); free(v[k]); size_t s=(2u<<20)+rnd()%(6u<<20); errno=0; v[k]=malloc(s);
    if(!v[k]){ if(!fails++) e=errno; continue; } v[k][0]=1; v[k][s-1]=1;
    if(i%100000==0) fprintf(stderr,"hugechurn: step %ld, %ld maps lines\n",i,maps_lines()); }
  printf("hugechurn: %ld failures, errno %d (%s), %ld maps lines\n",fails,e,e?strerror(e):"none",maps_lines());
  for(long k=0;k<n;k++) free(v[k]); free(v); }
/* session 36. bufworkers THREADS (16): threads whose only allocations are
 * buffers of 40..68 KiB, each taken, a byte written, freed, 50,000 times
 * (a worker that never allocated small had no thread cache, and 16
 * threads on 8 arenas none for these sizes: docs/measurements.md,
 * "py-pool32"). bufkeep THREADS (16): each thread keeps 8 buffers of
 * 32..256 KiB, replacing one at random 20,000 times. */
static void *bw_w(void*a){ rs=(uint64_t)(long)a*7919+13;
  for(int i=0;i<50000;i++){ size_t s=40960+rnd()%(28u*1024); char*p=malloc(s); W(p,0); sink+=p[0]; free(p); }
  return NULL; }
static void *bk_w(void*a){ rs=(uint64_t)(long)a*7919+17; char*v[8]={0};
  for(int i=0;i<20000;i++){ int k=rnd()&7; free(v[k]); size_t s=32768+rnd()%(224u*1024); v[k]=malloc(s); W(v[k],0); W(v[k],s-1); }
  for(int k=0;k<8;k++) free(v[k]);
  return NULL; }
static void bw_run(void*(*f)(void*)){ int n=NT>1&&NT<=128?NT:16; pthread_t t[128];
  for(long i=0;i<n;i++) pthread_create(&t[i],NULL,f,(void*)i);
  for(int i=0;i<n;i++) pthread_join(t[i],NULL); }
static void p_bufworkers(void){ bw_run(bw_w); }
static void p_bufkeep(void){ bw_run(bk_w); }
/* Session 38 (docs/measurements.md, "Probes, session 38"): classes no
 * probe had run. ttlcache: a key-value cache of 64k slots; each op sets a
 * key with a value whose size drifts over the run (mean 64 B -> 16 KiB ->
 * 256 B, spread x4) and an expiry 1..2000 ops ahead; every 1000 ops
 * expired values are freed (a sweep of an expiry ring). */
static void p_ttlcache(void){
  enum{N=65536,R=2048}; char**v=calloc(N,sizeof*v); int*ring[R]; int rn[R]={0};
  for(int i=0;i<R;i++) ring[i]=malloc(4096*sizeof(int));
  long ops=3000000;
  for(long i=0;i<ops;i++){
    double t=(double)i/ops; double mean= t<0.5? 64*pow(256,t*2) : 16384*pow(1.0/64,(t-0.5)*2);
    size_t s=(size_t)(mean/2+(double)(rnd()%(uint64_t)(mean*2+1))); if(!s) s=1;
    int k=rnd()%N; free(v[k]); v[k]=malloc(s); W(v[k],0); W(v[k],s-1);
    int e=(int)((i+1+rnd()%2000)%R); if(rn[e]<4096) ring[e][rn[e]++]=k;
    if(i%1000==999){ for(int b=0;b<1000;b++){ int r=(int)((i-999+b)%R); for(int j=0;j<rn[r];j++){ free(v[ring[r][j]]); v[ring[r][j]]=0; } rn[r]=0; } }
  }
  for(int k=0;k<N;k++) free(v[k]); free(v); for(int i=0;i<R;i++) free(ring[i]); }
/* poolbufs THREADS (4 producers + 4 consumers): producers malloc buffers
 * of 1..64 KiB (log-uniform), write the first and last byte, and hand them
 * through one locked ring of 256 to a pool of consumers, which read and
 * free them; 300k buffers each producer. */
static struct { pthread_mutex_t m; pthread_cond_t ne,nf; char*q[256]; size_t qs[256]; long h,t; int done; } PB={PTHREAD_MUTEX_INITIALIZER,PTHREAD_COND_INITIALIZER,PTHREAD_COND_INITIALIZER};
static void*pb_prod(void*a){ rs+=(long)a*31+1;
  for(int i=0;i<300000;i++){ size_t s=(size_t)1024<<(rnd()%7); s=s/2+rnd()%s; if(s>65536) s=65536; char*p=malloc(s); W(p,0); W(p,s-1);
    pthread_mutex_lock(&PB.m); while(PB.h-PB.t>=256) pthread_cond_wait(&PB.nf,&PB.m); PB.q[PB.h&255]=p; PB.qs[PB.h&255]=s; PB.h++; pthread_cond_signal(&PB.ne); pthread_mutex_unlock(&PB.m); }
  return 0; }
static void*pb_cons(void*a){ (void)a; for(;;){ pthread_mutex_lock(&PB.m); while(PB.h==PB.t&&!PB.done) pthread_cond_wait(&PB.ne,&PB.m);
    if(PB.h==PB.t){ pthread_mutex_unlock(&PB.m); return 0; } char*p=PB.q[PB.t&255]; size_t s=PB.qs[PB.t&255]; PB.t++; pthread_cond_signal(&PB.nf); pthread_mutex_unlock(&PB.m);
    sink+=((volatile char*)p)[s-1]; free(p); } }
static void p_poolbufs(void){ int n=NT>1&&NT<=64?NT:4; pthread_t pr[64],co[64];
  for(long i=0;i<n;i++){ pthread_create(&pr[i],0,pb_prod,(void*)i); pthread_create(&co[i],0,pb_cons,(void*)i); }
  for(int i=0;i<n;i++) pthread_join(pr[i],0);
  pthread_mutex_lock(&PB.m); PB.done=1; pthread_cond_broadcast(&PB.ne); pthread_mutex_unlock(&PB.m);
  for(int i=0;i<n;i++) pthread_join(co[i],0); }
/* parsetree: a parser's AST: 3 passes, each builds a tree of 3M nodes of
 * 24..56 B (children linked, a string of 1..23 B in one node in 4), then
 * frees it in one walk (depth first, the order a recursive free takes). */
struct pnode { struct pnode*kid,*next; char*str; long pad[4]; };
static struct pnode*pt_build(long*left,int depth){ size_t s=24+8*(rnd()%5); struct pnode*n=malloc(s); n->kid=n->next=0; n->str=0; (*left)--;
  if(rnd()%4==0){ size_t l=1+rnd()%23; n->str=malloc(l); W(n->str,0); }
  if(depth<40){ int k=(int)(rnd()%4); struct pnode**tail=&n->kid; for(int i=0;i<k&&*left>0;i++){ *tail=pt_build(left,depth+1); tail=&(*tail)->next; } }
  return n; }
static void pt_free(struct pnode*n){ while(n){ struct pnode*nx=n->next; pt_free(n->kid); free(n->str); free(n); n=nx; } }
static void p_parsetree(void){ for(int pass=0;pass<3;pass++){ long left=3000000; struct pnode*root=0,**tail=&root;
    while(left>0){ *tail=pt_build(&left,0); tail=&(*tail)->next; } pt_free(root); } }
/* simdbig: aligned_alloc(64, n) for n 64 B..1 MiB (log-uniform, multiple of
 * 64), 1024 live, 1M replaced, first and last byte written. */
static void p_simdbig(void){ enum{N=1024}; char*v[N]={0};
  for(long i=0;i<1000000;i++){ int k=rnd()%N; free(v[k]); size_t s=(size_t)64<<(rnd()%15); s=(s/2+rnd()%s+63)&~(size_t)63; v[k]=aligned_alloc(64,s); W(v[k],0); W(v[k],s-1); }
  for(int k=0;k<N;k++) free(v[k]); }
/* shrinksteps: vectors filled to 4 KiB..2 MiB then shrunk by halves
 * (realloc to 1/2, 1/4, ... down to 16..64 B, shrink_to_fit after
 * erasures), 64 live, 50k vectors. */
static void p_shrinksteps(void){ enum{N=64}; char*v[N]={0};
  for(long i=0;i<50000;i++){ int k=rnd()%N; free(v[k]); size_t s=(size_t)4096<<(rnd()%10); char*p=malloc(s); W(p,0); W(p,s-1);
    size_t stop=16+rnd()%49; while(s/2>=stop){ s/=2; p=realloc(p,s); W(p,s-1); } v[k]=p; }
  for(int k=0;k<N;k++) free(v[k]); }
/* phasekeep: a long-running process in 8 phases; each phase allocates
 * 160 MB in one size band (16, 48, 200, 900, 3000, 12000, 40000, 100 B..
 * spread x2, cycling small to big and back) and keeps 1 object in 16 alive
 * to the end (the rest freed at the phase's end): the pages a phase leaves
 * sparsely used must serve the next phases' sizes. */
static void p_phasekeep(void){ static const size_t B[]={16,48,200,900,3000,12000,40000,100};
  size_t cap=1u<<20,nk=0; char**keep=malloc(cap*sizeof*keep);
  for(int ph=0;ph<8;ph++){ size_t b=B[ph]; size_t n=(160u<<20)/(b+b/2); char**v=malloc(n*sizeof*v);
    for(size_t i=0;i<n;i++){ size_t s=b/2+rnd()%(b+1); if(!s) s=1; v[i]=malloc(s); W(v[i],0); }
    for(size_t i=0;i<n;i++){ if(i%16==0&&nk<cap) keep[nk++]=v[i]; else free(v[i]); } free(v); }
  for(size_t i=0;i<nk;i++) free(keep[i]); free(keep); }
/* sleepers THREADS (64): THREADS threads on the 2 cores; each 20 times
 * allocates a burst of 2000 objects of 16..2048 B, frees them, then sleeps
 * 20..60 ms (idle long enough for a decay or a purger to act). */
static void*sl_w(void*a){ rs+=(long)a*131+7; char*v[2000];
  for(int r=0;r<20;r++){ for(int i=0;i<2000;i++){ size_t s=16+rnd()%2033; v[i]=malloc(s); W(v[i],0);} for(int i=0;i<2000;i++) free(v[i]); usleep(20000+rnd()%40000); } return 0; }
static void p_sleepers(void){ s33_run(NT>1&&NT<=256?NT:64,sl_w); }
int main(int argc,char**argv){
  const char*m=argv[1]; g_argc=argc; g_argv=argv; if(argc>2) NT=atoi(argv[2]);
#define M(x) if(!strcmp(m,#x)){ p_##x(); printf("%ld\n", sink&0); return 0; }
  M(tiny) M(pageclass) M(largefifo) M(smallfifo) M(phase) M(grow) M(strbuild) M(vecdouble) M(callocbig) M(callocmid)
  M(align4k) M(align64) M(reuse) M(threadchurn) M(threadkeep) M(prodcons) M(threadheaps) M(huge)
  M(idlepool) M(frag) M(alignmix)
  M(odd) M(big2m1) M(reallocpp) M(callocreuse) M(memalignbig) M(lifo) M(gen) M(oversub) M(reqthreads) M(oneforall) M(sparsehuge) M(idleburst)
  M(usable) M(usablegrow) M(pipe4) M(xrealloc) M(callocsmall) M(callocmed) M(server) M(strgrow1) M(shrink) M(shrinkbig)
  M(pagealignsmall) M(simd) M(burst64) M(boundary) M(reallocsame) M(buf64) M(tdphases)
  M(rehash) M(vecusable) M(strjoin) M(drift) M(threadbufs)
  M(peakregrow) M(tinyodd) M(idlethreads) M(xfree) M(orphanfree) M(callocsparse) M(vec15) M(hugethreads)
  M(hugethensmall) M(smallthenhuge) M(hugemid) M(manyhuge) M(hugechurn) M(bufworkers) M(bufkeep)
  M(ttlcache) M(poolbufs) M(parsetree) M(simdbig) M(shrinksteps) M(phasekeep) M(sleepers)
  M(orptest) M(oxmalloc) M(omleak) M(osimple) M(olarge) M(olarson) M(omstress) M(ogthread)
  fprintf(stderr,"unknown\n"); return 2;
}
