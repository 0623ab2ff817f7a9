/* Notices to the kernel outside any request; see notify.h. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <glib.h>

#include "notify.h"

void sv_notify_forget_top_level(struct sv_fs *fs, GPtrArray *names)
{
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];

		/* -ENOENT: the kernel had not cached it. */
		fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, name, strlen(name));
	}
	fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
}

void sv_notify_forget_entries(struct sv_fs *fs, GArray *entries)
{
	for (guint i = 0; i < entries->len; i++) {
		const struct sv_inode_entry *e = &g_array_index(entries, struct sv_inode_entry, i);

		/* -ENOENT: the kernel had not cached it, or forgot it meanwhile. */
		fuse_lowlevel_notify_inval_entry(fs->se, e->parent_id, e->name, strlen(e->name));
		fuse_lowlevel_notify_inval_inode(fs->se, e->id, 0, 0);
	}
}

#define JOIN_GRACE_SECONDS 2

void sv_notify_join(struct sv_fs *fs, pthread_t thread, const char *what)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += JOIN_GRACE_SECONDS;
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
