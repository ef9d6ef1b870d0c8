/* Included first (-include) in the sanitizer builds of the API suite: the
 * allocator is then linked statically without its libc names, beside the
 * sanitizer's own malloc, and the tests call it through the jm_ names. */
#include <stdlib.h>
#include <malloc.h>
#include "jmalloc.h"
#define malloc jm_malloc
#define calloc jm_calloc
#define realloc jm_realloc
#define free jm_free
#define posix_memalign jm_posix_memalign
#define aligned_alloc jm_aligned_alloc
#define memalign jm_memalign
#define valloc jm_valloc
#define pvalloc jm_pvalloc
#define malloc_usable_size jm_malloc_usable_size
#define reallocarray jm_reallocarray
#define free_sized jm_free_sized
#define free_aligned_sized jm_free_aligned_sized
