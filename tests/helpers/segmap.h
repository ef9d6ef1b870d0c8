/*
 * segmap.h: a live segment mapped for writing, as another process of its
 * owner may map it (seg_poison, seg_rewrite).
 *
 *   seg_map_rw(path, &size)  the file mapped shared and writable, its size
 *                            in *size; NULL after a message on stderr
 */
#ifndef JM_TEST_SEGMAP_H
#define JM_TEST_SEGMAP_H

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static inline char *seg_map_rw(const char *path, size_t *size)
{
	int fd = open(path, O_RDWR);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(path);
		return NULL;
	}
	char *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		perror("mmap");
		return NULL;
	}
	*size = (size_t)st.st_size;
	return m;
}

#endif
