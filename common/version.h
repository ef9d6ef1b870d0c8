/*
 * version.h: the version of jmalloc, one for the allocator, jmstatd and jmctl
 * (the string is JMALLOC_VERSION of the public header, jmalloc.h). The
 * stats-segment layout has its own number, JMSTAT_VERSION in jmstat.h.
 */
#ifndef JM_VERSION_H
#define JM_VERSION_H

#include "jmalloc.h"

#define JM_VERSION JMALLOC_VERSION

#endif
