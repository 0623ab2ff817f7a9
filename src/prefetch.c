/* A thread that reads SOURCE's directories ahead of a walk, see prefetch.h. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "prefetch.h"

/* Queued directories each hold one fd: this bounds them. */
#define MAX_QUEUED 64
/* A huge directory's first entries are enough to keep a walker going. */
#define MAX_ENTRIES 4096

struct sv_prefetch {
	GThreadPool *pool;
	bool stopping;
	unsigned long count;
};

struct task {
	DIR *dir;
	GPtrArray *names;
};

static void task_free(struct task *task)
{
	closedir(task->dir);
	g_ptr_array_unref(task->names);
	g_free(task);
}

static bool stopping(struct sv_prefetch *pf)
{
	return __atomic_load_n(&pf->stopping, __ATOMIC_RELAXED);
}

/* What the view's readdirplus of this directory will read: its listing and each entry's inode. */
static void read_directory(struct sv_prefetch *pf, int parent_fd, const char *name)
{
	unsigned int entries = 0;
	struct dirent *d;
	struct stat st;
	DIR *dp;
	int fd;

	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return;
	}
	while (!stopping(pf) && entries++ < MAX_ENTRIES && (d = readdir(dp))) {
		if (!sv_policy_is_dot_or_dotdot(d->d_name))
			fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW);
	}
	closedir(dp);
	__atomic_add_fetch(&pf->count, 1, __ATOMIC_RELAXED);
}

static void run_task(gpointer data, gpointer user_data)
{
	struct task *task = data;
	struct sv_prefetch *pf = user_data;

	for (guint i = 0; i < task->names->len && !stopping(pf); i++)
		read_directory(pf, dirfd(task->dir), task->names->pdata[i]);
	task_free(task);
}

struct sv_prefetch *sv_prefetch_new(GError **error)
{
	struct sv_prefetch *pf = g_new0(struct sv_prefetch, 1);

	/* One thread: the other CPU of a small host is the reader's. */
	pf->pool = g_thread_pool_new(run_task, pf, 1, TRUE, error);
	if (!pf->pool) {
		g_free(pf);
		return NULL;
	}
	return pf;
}

void sv_prefetch_queue(struct sv_prefetch *pf, DIR *dir, GPtrArray *names)
{
	struct task *task = g_new(struct task, 1);

	task->dir = dir;
	task->names = names;
	if (names->len == 0 || g_thread_pool_unprocessed(pf->pool) >= MAX_QUEUED ||
	    !g_thread_pool_push(pf->pool, task, NULL))
		task_free(task);
}

unsigned long sv_prefetch_count(struct sv_prefetch *pf)
{
	return pf ? __atomic_load_n(&pf->count, __ATOMIC_RELAXED) : 0;
}

void sv_prefetch_free(struct sv_prefetch *pf)
{
	if (!pf)
		return;
	/* Queued tasks still run, to free themselves, but read nothing. */
	__atomic_store_n(&pf->stopping, true, __ATOMIC_RELAXED);
	g_thread_pool_free(pf->pool, FALSE, TRUE);
	g_free(pf);
}
