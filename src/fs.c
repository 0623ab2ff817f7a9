/*
 * The view's shared state outside the request handlers: the closure filter
 * (looked up by every lookup and listing at the root, swapped whole on
 * SIGHUP) and the counters.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>

#include "fs.h"

bool sv_fs_visible(struct sv_fs *fs, const struct sv_inode *parent, const char *name)
{
	bool visible;

	if (!fs->opts->closure_path || parent->parent)
		return true;
	g_rw_lock_reader_lock(&fs->closure_lock);
	visible = sv_closure_contains(fs->closure, name);
	g_rw_lock_reader_unlock(&fs->closure_lock);
	if (!visible)
		SV_STAT_ADD(fs, hidden);
	return visible;
}

static int report_missing(struct sv_fs *fs, struct sv_closure *closure, char **error)
{
	g_autoptr(GPtrArray) missing = sv_closure_missing(closure, fs->root_fd);

	if (missing->len == 0)
		return 0;
	if (fs->opts->closure_strict) {
		*error = g_strdup_printf("closure %s: %u entries are not in SOURCE, e.g. '%s'",
					 fs->opts->closure_path, missing->len,
					 (char *)missing->pdata[0]);
		return -1;
	}
	g_warning("closure %s: %u entries are not in SOURCE, e.g. '%s'",
		  fs->opts->closure_path, missing->len, (char *)missing->pdata[0]);
	return 0;
}

void sv_fs_forget_top_level(struct sv_fs *fs, GPtrArray *names)
{
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];

		/* -ENOENT: the kernel had not cached it. */
		fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, name, strlen(name));
	}
	fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
}

int sv_fs_load_closure(struct sv_fs *fs, char **error)
{
	struct sv_closure *fresh, *old;
	g_autoptr(GPtrArray) removed = NULL;
	g_autoptr(GPtrArray) added = NULL;

	if (!fs->opts->closure_path)
		return 0;
	fresh = sv_closure_load(fs->opts->closure_path, fs->opts->store_dir, error);
	if (!fresh || report_missing(fs, fresh, error) < 0) {
		sv_closure_free(fresh);
		return -1;
	}
	g_rw_lock_writer_lock(&fs->closure_lock);
	old = fs->closure;
	fs->closure = fresh;
	g_rw_lock_writer_unlock(&fs->closure_lock);
	if (!old) {
		g_debug("closure %s: %u entries", fs->opts->closure_path, sv_closure_size(fresh));
		return 0;
	}
	removed = sv_closure_difference(old, fresh);
	added = sv_closure_difference(fresh, old);
	if (fs->se)
		sv_fs_forget_top_level(fs, removed);
	g_message("closure %s reloaded: %u entries, %u added, %u removed",
		  fs->opts->closure_path, sv_closure_size(fresh), added->len, removed->len);
	sv_closure_free(old);
	return 0;
}

void sv_fs_clear(struct sv_fs *fs)
{
	sv_inode_table_free(fs->inodes);
	fs->inodes = NULL;
	sv_closure_free(fs->closure);
	fs->closure = NULL;
}

#define NOTIFIER_GRACE_SECONDS 2

void sv_fs_join_notifier(struct sv_fs *fs, pthread_t thread, const char *what)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += NOTIFIER_GRACE_SECONDS;
	if (pthread_timedjoin_np(thread, NULL, &deadline) == 0)
		return;
	g_warning("%s waits on a request that will never be answered; aborting the connection",
		  what);
	/*
	 * Detached too: libfuse leaves a severed connection's mount in place,
	 * which would then answer ENOTCONN.
	 */
	if (umount2(fs->opts->mountpoint, MNT_FORCE | MNT_DETACH) < 0)
		g_warning("cannot abort the connection on '%s': %s", fs->opts->mountpoint,
			  g_strerror(errno));
	pthread_join(thread, NULL);
}

void sv_fs_log_stats(struct sv_fs *fs)
{
	unsigned int inodes, dir_fds;

	sv_inode_table_counts(fs->inodes, &inodes, &dir_fds);
	g_message("stats: lookups=%lu opens=%lu noatime_dropped=%lu reads=%lu denied=%lu "
		  "hidden=%lu inodes=%u dir_fds=%u prefetched=%lu listing_ends=%lu "
		  "read_ahead_used=%lu data_read_ahead=%lu passthrough=%lu forgets=%lu",
		  __atomic_load_n(&fs->stats.lookups, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.opens, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.noatime_dropped, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.reads, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.denied, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.hidden, __ATOMIC_RELAXED),
		  inodes, dir_fds, sv_prefetch_count(fs->prefetch),
		  __atomic_load_n(&fs->stats.listing_ends, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.read_ahead_used, __ATOMIC_RELAXED),
		  sv_readahead_count(fs->readahead),
		  __atomic_load_n(&fs->stats.passthrough, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.forgets, __ATOMIC_RELAXED));
}
