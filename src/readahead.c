/* A thread that reads small files' data ahead of a reader, see readahead.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readahead.h"

struct sv_readahead {
	GThread *thread;
	GMutex lock;
	GCond wake;
	GQueue waiting;			/* directory fds, newest first */
	bool stopping;
	unsigned long files;		/* read ahead; atomic */
};

/* The file's data is wanted, not a change of its atime in SOURCE. */
static int open_quietly(int dir_fd, const char *name)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	int fd = openat(dir_fd, name, flags | O_NOATIME);

	/* Only the owner, or a privileged daemon, may use O_NOATIME. */
	if (fd < 0 && errno == EPERM)
		fd = openat(dir_fd, name, flags);
	return fd;
}

static bool is_regular(int dir_fd, const struct dirent *entry)
{
	struct stat st;

	if (entry->d_type != DT_UNKNOWN)
		return entry->d_type == DT_REG;
	/* Never open what may be a device or a fifo to find out. */
	return fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

static void read_ahead_directory(struct sv_readahead *ra, int dir_fd)
{
	DIR *dir = fdopendir(dir_fd);
	off_t budget = SV_READAHEAD_MAX_BYTES;
	unsigned int files = 0;
	struct dirent *entry;

	if (!dir) {
		close(dir_fd);
		return;
	}
	while (files < SV_READAHEAD_MAX_FILES && !__atomic_load_n(&ra->stopping, __ATOMIC_RELAXED) &&
	       (entry = readdir(dir))) {
		struct stat st;
		int fd;

		if (!is_regular(dir_fd, entry))
			continue;
		fd = open_quietly(dir_fd, entry->d_name);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
		    st.st_size <= SV_READAHEAD_MAX_FILE_SIZE && st.st_size <= budget &&
		    readahead(fd, 0, (size_t)st.st_size) == 0) {
			budget -= st.st_size;
			files++;
		}
		close(fd);
	}
	closedir(dir);
	__atomic_add_fetch(&ra->files, files, __ATOMIC_RELAXED);
}

/* The newest directory first: a reader that moved on left the older ones. */
static int next_directory(struct sv_readahead *ra)
{
	int dir_fd = -1;

	g_mutex_lock(&ra->lock);
	while (!ra->stopping && g_queue_is_empty(&ra->waiting))
		g_cond_wait(&ra->wake, &ra->lock);
	if (!ra->stopping)
		dir_fd = GPOINTER_TO_INT(g_queue_pop_head(&ra->waiting));
	g_mutex_unlock(&ra->lock);
	return dir_fd;
}

static gpointer readahead_main(gpointer data)
{
	struct sv_readahead *ra = data;
	int dir_fd;

	while ((dir_fd = next_directory(ra)) >= 0)
		read_ahead_directory(ra, dir_fd);
	return NULL;
}

struct sv_readahead *sv_readahead_new(GError **error)
{
	struct sv_readahead *ra = g_new0(struct sv_readahead, 1);

	g_mutex_init(&ra->lock);
	g_cond_init(&ra->wake);
	g_queue_init(&ra->waiting);
	ra->thread = g_thread_try_new("storeview-data", readahead_main, ra, error);
	if (!ra->thread) {
		g_cond_clear(&ra->wake);
		g_mutex_clear(&ra->lock);
		g_free(ra);
		return NULL;
	}
	return ra;
}

static void close_waiting(gpointer item, gpointer unused)
{
	close(GPOINTER_TO_INT(item));
}

void sv_readahead_queue(struct sv_readahead *ra, int dir_fd)
{
	g_mutex_lock(&ra->lock);
	g_queue_push_head(&ra->waiting, GINT_TO_POINTER(dir_fd));
	if (g_queue_get_length(&ra->waiting) > SV_READAHEAD_MAX_QUEUED)
		close_waiting(g_queue_pop_tail(&ra->waiting), NULL);
	g_cond_signal(&ra->wake);
	g_mutex_unlock(&ra->lock);
}

unsigned long sv_readahead_count(struct sv_readahead *ra)
{
	return ra ? __atomic_load_n(&ra->files, __ATOMIC_RELAXED) : 0;
}

void sv_readahead_free(struct sv_readahead *ra)
{
	if (!ra)
		return;
	g_mutex_lock(&ra->lock);
	__atomic_store_n(&ra->stopping, true, __ATOMIC_RELAXED);
	g_cond_signal(&ra->wake);
	g_mutex_unlock(&ra->lock);
	g_thread_join(ra->thread);
	g_queue_foreach(&ra->waiting, close_waiting, NULL);
	g_queue_clear(&ra->waiting);
	g_cond_clear(&ra->wake);
	g_mutex_clear(&ra->lock);
	g_free(ra);
}
