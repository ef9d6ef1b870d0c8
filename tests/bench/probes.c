/*
 * probes.c: ad-hoc allocation patterns outside `make bench` (session 10,
 * docs/purging.md, "Probes outside make bench"): one binary, the pattern
 * named by its first argument, threads by the second where it has any.
 *   cc -O2 -pthread -o /tmp/probes tests/bench/probes.c
 *   tests/bench/probes.py 3 tiny:"/tmp/probes tiny" prodcons:"/tmp/probes prodcons 2"
 * Pages are written through touch() (volatile): a plain store to memory
 * that is only ever freed is removed by the compiler, and an early
 * version of these probes measured nothing but the allocator's own
 * writes that way. Not built by the Makefile; not a workload.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>
#include <malloc.h>

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
 * purge in small pieces by the dirty cap (docs/purging.md, session 18). */
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
int main(int argc,char**argv){
  const char*m=argv[1]; if(argc>2) NT=atoi(argv[2]);
#define M(x) if(!strcmp(m,#x)){ p_##x(); printf("%ld\n", sink&0); return 0; }
  M(tiny) M(pageclass) M(largefifo) M(smallfifo) M(phase) M(grow) M(strbuild) M(vecdouble) M(callocbig) M(callocmid)
  M(align4k) M(align64) M(reuse) M(threadchurn) M(threadkeep) M(prodcons) M(threadheaps) M(huge)
  M(idlepool) M(frag) M(alignmix)
  fprintf(stderr,"unknown\n"); return 2;
}
