/* A thread that reads small files' data ahead of a reader, see readahead.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "policy.h"
#include "readahead.h"

/* Levels below the starting directory: each holds a directory open. */
#define MAX_DEPTH 32
/* What the page cache counts in; a file's size rounded up to it. */
#define PAGE 4096
#define PAGE_ROUNDED(size) (((size) + PAGE - 1) & ~(off_t)(PAGE - 1))

struct sv_readahead {
	GThread *thread;
	GMutex lock;
	GCond wake;			/* a start, room in the window, or the end */
	/* Where the next walk starts (see sv_readahead_start), or NULL. */
	GArray *start;
	dev_t start_store_dev;
	ino_t start_store_ino;
	/* The store path walked now or last; walked: there is one. */
	bool walked;
	dev_t store_dev;
	ino_t store_ino;
	/* Atomic: the thread stops; a start waits, so the walk gives up. */
	bool stopping;
	bool restart;
	/* The walk's files in a row already in memory; written by the thread only. */
	unsigned int cached_run;
	/* Regular files the walk passed, and readers' opens when it started. */
	unsigned long passed;
	unsigned long opens_at_start;
	bool no_cachestat;		/* the kernel predates it; the thread's own */
	/* Atomic: the thread waits for readers to move the window. */
	bool waiting;
	/* Bytes read through the view (atomic), and read ahead by this walk. */
	unsigned long long consumed;
	unsigned long long window_end;
	unsigned long files;		/* read ahead; atomic */
	unsigned long opens;		/* readers' opens of regular files; atomic */
	/* Where the thread waits (see sv_readahead_idle), and for how many bytes. */
	enum { WALKING, AWAITS_START, AWAITS_ROOM } state;
	unsigned long long room_wanted;
};

/* Called by the thread only. */
static bool walk_over(struct sv_readahead *ra)
{
	return __atomic_load_n(&ra->stopping, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&ra->restart, __ATOMIC_RELAXED) ||
	       ra->cached_run >= SV_READAHEAD_MAX_CACHED_RUN;
}

/* Under the lock: whether the thread, waiting for room for size bytes, goes on. */
static bool room_or_over(struct sv_readahead *ra, unsigned long long size)
{
	return walk_over(ra) || ra->window_end + size <=
					__atomic_load_n(&ra->consumed, __ATOMIC_SEQ_CST) +
						SV_READAHEAD_WINDOW;
}

/* Waits until size more bytes fit in the window; false if the walk is over. */
static bool room_for(struct sv_readahead *ra, off_t size)
{
	bool room;

	g_mutex_lock(&ra->lock);
	/* Set before the window is looked at, so that a reader never misses it. */
	__atomic_store_n(&ra->waiting, true, __ATOMIC_SEQ_CST);
	ra->state = AWAITS_ROOM;
	ra->room_wanted = (unsigned long long)size;
	while (!room_or_over(ra, (unsigned long long)size))
		g_cond_wait(&ra->wake, &ra->lock);
	ra->state = WALKING;
	__atomic_store_n(&ra->waiting, false, __ATOMIC_RELAXED);
	room = !walk_over(ra);
	if (room)
		ra->window_end += (unsigned long long)size;
	g_mutex_unlock(&ra->lock);
	return room;
}

/* The data is wanted, not a change of atimes in SOURCE. */
static int open_quietly(int dir_fd, const char *name, int flags)
{
	int fd;

	flags |= O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	fd = openat(dir_fd, name, flags | O_NOATIME);
	/* Only the owner, or a privileged daemon, may use O_NOATIME. */
	if (fd < 0 && errno == EPERM)
		fd = openat(dir_fd, name, flags);
	return fd;
}

long long sv_readahead_cached_bytes(int fd)
{
	struct cachestat_range whole = { 0, 0 };
	struct cachestat cs;

	if (syscall(__NR_cachestat, fd, &whole, &cs, 0) < 0)
		return -1;
	return (long long)(cs.nr_cache * PAGE);
}

/*
 * Whether all the file's pages are in memory, asked without reading (which
 * could start I/O or change the atime); false where the kernel cannot tell.
 */
static bool in_memory(struct sv_readahead *ra, int fd, off_t size)
{
	long long cached;

	if (ra->no_cachestat)
		return false;
	cached = sv_readahead_cached_bytes(fd);
	if (cached < 0) {
		ra->no_cachestat = errno == ENOSYS;
		return false;
	}
	return cached >= (long long)PAGE_ROUNDED(size);
}

/*
 * Whether readers opened more files since the walk started than it has
 * passed: what it finds in memory they read, SOURCE is not warm.
 */
static bool readers_ahead(struct sv_readahead *ra)
{
	return ra->passed < __atomic_load_n(&ra->opens, __ATOMIC_RELAXED) - ra->opens_at_start;
}

static unsigned char type_of(int dir_fd, const struct dirent *entry)
{
	struct stat st;

	if (entry->d_type != DT_UNKNOWN)
		return entry->d_type;
	/* Never open what may be a device or a fifo to find out. */
	if (fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR : DT_UNKNOWN;
}

static void read_file_ahead(struct sv_readahead *ra, int dir_fd, const char *name)
{
	int fd = open_quietly(dir_fd, name, 0);
	struct stat st;

	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	ra->passed++;
	if (st.st_size == 0 || st.st_size > SV_READAHEAD_MAX_FILE_SIZE) {
		close(fd);
		return;
	}
	if (in_memory(ra, fd, st.st_size)) {
		if (!readers_ahead(ra))
			ra->cached_run++;
	} else if (room_for(ra, PAGE_ROUNDED(st.st_size)) &&
		   readahead(fd, 0, (size_t)st.st_size) == 0) {
		ra->cached_run = 0;
		__atomic_add_fetch(&ra->files, 1, __ATOMIC_RELAXED);
	}
	close(fd);
}

/*
 * Reads ahead the directory open as dir_fd (taken), depth first, in
 * listing order; after the entry numbered after, if that is not 0.
 */
static void walk_directory(struct sv_readahead *ra, int dir_fd, ino_t after, unsigned int depth)
{
	DIR *dir = fdopendir(dir_fd);
	bool skipping = after != 0;
	struct dirent *entry;

	if (!dir) {
		close(dir_fd);
		return;
	}
	while (!walk_over(ra) && (entry = readdir(dir))) {
		int sub_fd;

		if (skipping) {
			skipping = entry->d_ino != after;
			continue;
		}
		if (sv_policy_is_dot_or_dotdot(entry->d_name))
			continue;
		switch (type_of(dir_fd, entry)) {
		case DT_REG:
			read_file_ahead(ra, dir_fd, entry->d_name);
			break;
		case DT_DIR:
			if (depth >= MAX_DEPTH)
				break;
			sub_fd = open_quietly(dir_fd, entry->d_name, O_DIRECTORY);
			if (sub_fd >= 0)
				walk_directory(ra, sub_fd, 0, depth + 1);
			break;
		}
	}
	closedir(dir);
}

static void close_all(GArray *dir_fds)
{
	for (guint i = 0; i < dir_fds->len; i++)
		if (g_array_index(dir_fds, int, i) >= 0)
			close(g_array_index(dir_fds, int, i));
	g_array_free(dir_fds, TRUE);
}

/*
 * Goes on as a depth-first reader would from the first of dir_fds (taken):
 * all below it, then what follows it in each directory above.
 */
static void walk_from(struct sv_readahead *ra, GArray *dir_fds)
{
	ino_t after = 0;

	for (guint i = 0; i < dir_fds->len && !walk_over(ra); i++) {
		int dir_fd = g_array_index(dir_fds, int, i);
		struct stat st;

		if (fstat(dir_fd, &st) < 0)
			break;
		g_array_index(dir_fds, int, i) = -1;
		walk_directory(ra, dir_fd, after, 0);
		after = st.st_ino;
	}
	close_all(dir_fds);
}

/* Under the lock: whether the thread, waiting for a start, goes on. */
static bool start_or_stop(struct sv_readahead *ra)
{
	return __atomic_load_n(&ra->stopping, __ATOMIC_RELAXED) || ra->start;
}

/* Takes the next start, or returns NULL when the thread stops. */
static GArray *next_start(struct sv_readahead *ra)
{
	GArray *dir_fds;

	g_mutex_lock(&ra->lock);
	ra->state = AWAITS_START;
	while (!start_or_stop(ra))
		g_cond_wait(&ra->wake, &ra->lock);
	ra->state = WALKING;
	dir_fds = g_steal_pointer(&ra->start);
	ra->store_dev = ra->start_store_dev;
	ra->store_ino = ra->start_store_ino;
	ra->walked = true;
	__atomic_store_n(&ra->restart, false, __ATOMIC_RELAXED);
	ra->cached_run = 0;
	ra->passed = 0;
	ra->opens_at_start = __atomic_load_n(&ra->opens, __ATOMIC_RELAXED);
	/* A fresh window, from what readers have read so far. */
	ra->window_end = __atomic_load_n(&ra->consumed, __ATOMIC_RELAXED);
	g_mutex_unlock(&ra->lock);
	if (dir_fds && __atomic_load_n(&ra->stopping, __ATOMIC_RELAXED))
		g_clear_pointer(&dir_fds, close_all);
	return dir_fds;
}

static gpointer readahead_main(gpointer data)
{
	struct sv_readahead *ra = data;
	GArray *dir_fds;

	while ((dir_fds = next_start(ra)))
		walk_from(ra, dir_fds);
	return NULL;
}

struct sv_readahead *sv_readahead_new(char **error)
{
	struct sv_readahead *ra = g_new0(struct sv_readahead, 1);
	g_autoptr(GError) err = NULL;

	g_mutex_init(&ra->lock);
	g_cond_init(&ra->wake);
	ra->thread = g_thread_try_new("storeview-data", readahead_main, ra, &err);
	if (!ra->thread) {
		if (error)
			*error = g_strdup(err->message);
		g_cond_clear(&ra->wake);
		g_mutex_clear(&ra->lock);
		g_free(ra);
		return NULL;
	}
	return ra;
}

static bool walks_in(struct sv_readahead *ra, dev_t store_dev, ino_t store_ino)
{
	if (ra->start)
		return ra->start_store_dev == store_dev && ra->start_store_ino == store_ino;
	return ra->walked && ra->store_dev == store_dev && ra->store_ino == store_ino;
}

bool sv_readahead_in(struct sv_readahead *ra, dev_t store_dev, ino_t store_ino)
{
	bool in;

	g_mutex_lock(&ra->lock);
	in = walks_in(ra, store_dev, store_ino);
	g_mutex_unlock(&ra->lock);
	return in;
}

void sv_readahead_start(struct sv_readahead *ra, GArray *dir_fds, dev_t store_dev,
			ino_t store_ino)
{
	g_mutex_lock(&ra->lock);
	if (dir_fds->len == 0 || walks_in(ra, store_dev, store_ino)) {
		close_all(dir_fds);
	} else {
		if (ra->start)
			close_all(ra->start);
		ra->start = dir_fds;
		ra->start_store_dev = store_dev;
		ra->start_store_ino = store_ino;
		__atomic_store_n(&ra->restart, true, __ATOMIC_RELAXED);
		g_cond_broadcast(&ra->wake);
	}
	g_mutex_unlock(&ra->lock);
}

void sv_readahead_consumed(struct sv_readahead *ra, size_t bytes)
{
	__atomic_add_fetch(&ra->consumed, bytes, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ra->waiting, __ATOMIC_SEQ_CST)) {
		g_mutex_lock(&ra->lock);
		g_cond_broadcast(&ra->wake);
		g_mutex_unlock(&ra->lock);
	}
}

void sv_readahead_opened(struct sv_readahead *ra)
{
	__atomic_add_fetch(&ra->opens, 1, __ATOMIC_RELAXED);
}

unsigned long sv_readahead_count(struct sv_readahead *ra)
{
	return ra ? __atomic_load_n(&ra->files, __ATOMIC_RELAXED) : 0;
}

bool sv_readahead_idle(struct sv_readahead *ra)
{
	bool idle;

	g_mutex_lock(&ra->lock);
	if (ra->state == AWAITS_START)
		idle = !start_or_stop(ra);
	else if (ra->state == AWAITS_ROOM)
		idle = !room_or_over(ra, ra->room_wanted);
	else
		idle = false;
	g_mutex_unlock(&ra->lock);
	return idle;
}

void sv_readahead_free(struct sv_readahead *ra)
{
	if (!ra)
		return;
	g_mutex_lock(&ra->lock);
	__atomic_store_n(&ra->stopping, true, __ATOMIC_RELAXED);
	g_cond_broadcast(&ra->wake);
	g_mutex_unlock(&ra->lock);
	g_thread_join(ra->thread);
	if (ra->start)
		close_all(ra->start);
	g_cond_clear(&ra->wake);
	g_mutex_clear(&ra->lock);
	g_free(ra);
}
