/*
 * modules.c: the module table of the stats segment (include/jmstat.h):
 * which ELF files the process has loaded, where, and their GNU build-ids,
 * so that a reader turns the return addresses of the site table into
 * (build-id, file offset) pairs, the identity a site has in every process
 * of one binary, without opening any file of the process.
 *
 * One row per executable PT_LOAD segment of each loaded object, in the
 * loader's order (the program first), written from the program headers
 * the loader keeps in memory: the build-id from the object's PT_NOTE
 * segments, the program's path from /proc/self/exe (the loader names it
 * ""), the others' from the loader.
 *
 * Kept current across dlopen and dlclose without touching the malloc
 * path: jm__modules_refresh() runs on the sampling slow path (prof.c), once
 * per sampled allocation, after the stack is taken. It looks at the loader
 * only when the table may be stale (jm__modules_changed(): unwind.c says
 * so whenever a stack went the slow way, as it does for a return address
 * its cache does not know, a library's first, and every 64th stack; its
 * dlclose says so too). Then it costs one dl_iterate_phdr callback: it
 * compares the loader's counts of objects added and removed (dlpi_adds,
 * dlpi_subs) with those the table was built from, and rebuilds the whole
 * table, under the header's module_seq, only when they moved. A stack
 * sampled in a library just loaded is published after the table that
 * names the library: its return addresses are new to the cache, so its
 * walk is the slow one. (The check at every sample was 260 instructions
 * of each, about a sixth of a sample: the loader's lock, taken and let go,
 * and ours.) A library that glibc loads and unloads itself (not through
 * dlclose) is seen at the next slow walk, at most 64 stacks later.
 *
 * Locks and recursion: called with none of the allocator's locks held and
 * with the thread marked as sampling, so an allocation made meanwhile is
 * not sampled and does not come back here. dl_iterate_phdr takes the
 * loader's (recursive) lock and allocates nothing. Both calls of it, the
 * check and the rebuild, are made holding mod_lock, taken with trylock:
 * - a thread inside dlopen (holding the loader's lock) that samples an
 *   allocation never waits for a thread that holds mod_lock while it waits
 *   for the loader: it leaves the check to that thread or to a later
 *   sample;
 * - fork's prepare handler (prof.c) takes mod_lock, so no thread of ours is
 *   inside dl_iterate_phdr when the process forks: glibc does not reset
 *   the lock it takes in a forked child, which would then wait forever on
 *   its next sample (tests/sites/fork.test.sh found it).
 * Nothing here allocates: rows are written in place, the program's path
 * is read once into a static buffer.
 */
#include "internal.h"

#include <elf.h>
#include <link.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

static jm_lock_t mod_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long built_adds, built_subs; /* what the table shows */
static bool built;
/* The table may be stale: set by jm__modules_changed(), cleared by the
 * thread that then checks (before it reads the loader: a change after its
 * read sets it again). */
static _Atomic bool stale = true;
#ifdef JM_TEST
static unsigned long checks;       /* times the loader was asked, for tests */
unsigned long jm__test_modules_checks(void);
unsigned long jm__test_modules_checks(void) { return checks; }
#endif
static char exe_path[JMSTAT_MODULE_PATH];

struct counts {
	unsigned long long adds, subs;
	bool known;              /* the loader reports them (glibc >= 2.4) */
};

static void read_counts(const struct dl_phdr_info *info, size_t size, struct counts *c)
{
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		c->adds = info->dlpi_adds;
		c->subs = info->dlpi_subs;
		c->known = true;
	}
}

static int counts_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	read_counts(info, size, arg);
	return 1; /* the first object tells */
}

/* The GNU build-id of the object, from its PT_NOTE segments in memory:
 * its length (0: none) in *len, the bytes in id. */
static void build_id_of(const struct dl_phdr_info *info, uint8_t *id, uint32_t *len)
{
	*len = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		size_t align = ph->p_align == 8 ? 8 : 4;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_filesz;
		while (end - p >= (ptrdiff_t)sizeof(ElfW(Nhdr))) {
			ElfW(Nhdr) nh;
			memcpy(&nh, p, sizeof(nh));
			const char *name = p + sizeof(nh);
			size_t name_room = (nh.n_namesz + align - 1) & ~(align - 1);
			size_t desc_room = (nh.n_descsz + align - 1) & ~(align - 1);
			if (name_room > (size_t)(end - name) || desc_room > (size_t)(end - name) - name_room)
				break;
			const char *desc = name + name_room;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
			    nh.n_descsz > 0) {
				*len = nh.n_descsz < JMSTAT_BUILD_ID_MAX ? nh.n_descsz : JMSTAT_BUILD_ID_MAX;
				memcpy(id, desc, *len);
				return;
			}
			p = desc + desc_room;
		}
	}
}

static struct jmstat_module *module_row(uint32_t i)
{
	/* From jm__segp: the header is any process of our uid's to rewrite. */
	return (struct jmstat_module *)(jm__stats_at(jm__segp.module_off) +
	    (size_t)i * jm__segp.module_size);
}

struct build {
	struct counts counts;
	uint32_t n;              /* rows written */
	uint32_t objects;        /* objects seen */
};

static int build_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct build *b = arg;
	bool main_program = b->objects++ == 0;
	if (main_program)
		read_counts(info, size, &b->counts);
	const char *path = info->dlpi_name;
	if (main_program && (path == NULL || path[0] == '\0'))
		path = exe_path;
	if (path == NULL || path[0] == '\0')
		return 0;
	uint8_t id[JMSTAT_BUILD_ID_MAX];
	uint32_t id_len = 0;
	bool id_read = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || ph->p_memsz == 0)
			continue;
		if (b->n >= jm__segp.nmodules_max || !jm__stats_reserve_modules(b->n + 1))
			return 1; /* the table is full: the rest stay out */
		if (!id_read) {
			build_id_of(info, id, &id_len);
			id_read = true;
		}
		uint64_t addr = info->dlpi_addr + ph->p_vaddr;
		uint64_t start = addr & ~(uint64_t)JM_PAGE_MASK;
		struct jmstat_module *m = module_row(b->n++);
		m->start = start;
		m->limit = (addr + ph->p_memsz + JM_PAGE_MASK) & ~(uint64_t)JM_PAGE_MASK;
		m->offset = ph->p_offset - (addr - start);
		m->build_id_len = id_len;
		m->flags = main_program ? JMSTAT_MODULE_MAIN : 0;
		memset(m->build_id, 0, sizeof(m->build_id));
		memcpy(m->build_id, id, id_len);
		memset(m->path, 0, sizeof(m->path));
		strncpy(m->path, path, sizeof(m->path) - 1);
	}
	return 0;
}

void jm__modules_refresh(void)
{
	if (jm__segp.nmodules_max == 0 || !atomic_load(&stale))
		return;
	if (pthread_mutex_trylock(&mod_lock) != 0)
		return; /* stale stays set: the next sample checks */
	atomic_store(&stale, false);
#ifdef JM_TEST
	checks++;
#endif
	struct counts now = { 0 };
	dl_iterate_phdr(counts_cb, &now);
	if (built && (!now.known || (now.adds == built_adds && now.subs == built_subs))) {
		pthread_mutex_unlock(&mod_lock);
		return;
	}
	if (exe_path[0] == '\0')   /* not /proc/self's: the main thread may have ended */
		jm__os_exe_path(exe_path, sizeof(exe_path));
	struct build b = { .n = 0 };
	jm__row_begin(&jm__seg->module_seq);
	dl_iterate_phdr(build_cb, &b);
	jm__segp.nmodules = b.n;
	jm__seg->nmodules = b.n;
	jm__row_end(&jm__seg->module_seq);
	built_adds = b.counts.adds;
	built_subs = b.counts.subs;
	built = true;
	pthread_mutex_unlock(&mod_lock);
}

void jm__modules_changed(void)
{
	atomic_store(&stale, true);
}

void jm__modules_prefork(void) { jm__fork_lock(&mod_lock); }
void jm__modules_postfork_parent(void) { jm__fork_unlock(&mod_lock); }
JM_FORK_TEXT void jm__modules_postfork_child(void) { mod_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER; }
