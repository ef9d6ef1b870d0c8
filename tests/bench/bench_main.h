/*
 * bench_main.h: main() for a workload of the common form (bench.h): it
 * parses `NAME [THREADS [SCALE]]` and returns what the workload's
 * bench_main(THREADS, SCALE) returns, 0 once it printed its line. A
 * workload that reads more of its command line (fastpath, idle-return,
 * the purge patterns) includes bench.h alone and has its own main().
 */
#ifndef JM_BENCH_MAIN_H
#define JM_BENCH_MAIN_H

#include "bench.h"

static int bench_main(int threads, double scale);

int main(int argc, char **argv)
{
	int threads;
	double scale;
	bench_args(argc, argv, &threads, &scale);
	return bench_main(threads, scale);
}

#endif
