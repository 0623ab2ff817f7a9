/*
 * The top-level watcher; see watch.h.  New names need no notice: the view
 * never lets the kernel cache a failed lookup, so a path added to SOURCE is
 * found by the next lookup.  Names that leave need one, as the kernel keeps
 * their entries for the whole timeout (an hour by default).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "watch.h"

#define WATCHED_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			IN_ATTRIB | IN_ONLYDIR | IN_EXCL_UNLINK)

struct sv_watch {
	struct sv_fs *fs;
	int inotify_fd;
	int stop_fd;		/* an eventfd: written to stop the thread */
	pthread_t thread;
};

static void forget_name(struct sv_fs *fs, const char *name)
{
	/* -ENOENT: the kernel had not cached it. */
	fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, name, strlen(name));
}

/* Events were lost: every name the kernel may hold is suspect. */
static void forget_every_name(struct sv_fs *fs)
{
	g_autoptr(GPtrArray) names = sv_inode_table_child_names(fs->inodes,
								 sv_inode_table_root(fs->inodes));

	g_message("SOURCE changed faster than inotify reports; rechecking %u top-level entries",
		  names->len);
	for (guint i = 0; i < names->len; i++)
		forget_name(fs, names->pdata[i]);
}

/* Handles one batch of events; false once the watch is gone (SOURCE's root removed). */
static bool handle_events(struct sv_watch *watch, const char *buf, ssize_t len)
{
	bool root_changed = false, watching = true;

	for (const char *p = buf; p < buf + len;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;

		if (ev->mask & IN_Q_OVERFLOW)
			forget_every_name(watch->fs);
		else if (ev->len > 0 && (ev->mask & (IN_DELETE | IN_MOVED_FROM | IN_ATTRIB)))
			forget_name(watch->fs, ev->name);
		if (ev->mask & IN_IGNORED)
			watching = false;
		root_changed = true;
		p += sizeof(*ev) + ev->len;
	}
	/* The root's attributes (mtime, link count) and any cached listing of it. */
	if (root_changed)
		fuse_lowlevel_notify_inval_inode(watch->fs->se, FUSE_ROOT_ID, 0, 0);
	return watching;
}

static void *watch_main(void *data)
{
	struct sv_watch *watch = data;
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd fds[2] = {
		{ .fd = watch->inotify_fd, .events = POLLIN },
		{ .fd = watch->stop_fd, .events = POLLIN },
	};

	for (;;) {
		ssize_t len;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			g_warning("top-level watch: %s; removed store paths now show until the timeout",
				  g_strerror(errno));
			break;
		}
		if (fds[1].revents)
			break;
		len = read(watch->inotify_fd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0) {
			g_warning("top-level watch: %s; removed store paths now show until the timeout",
				  len < 0 ? g_strerror(errno) : "end of events");
			break;
		}
		if (!handle_events(watch, buf, len)) {
			g_warning("SOURCE's root is gone; the view no longer follows its top level");
			break;
		}
	}
	return NULL;
}

struct sv_watch *sv_watch_start(struct sv_fs *fs, char **error)
{
	struct sv_watch *watch = g_new0(struct sv_watch, 1);
	char root_path[64];
	int err;

	watch->fs = fs;
	watch->stop_fd = -1;
	watch->inotify_fd = inotify_init1(IN_CLOEXEC);
	if (watch->inotify_fd < 0)
		goto fail;
	/* SOURCE is open as an O_PATH fd of a private clone: watch that very inode. */
	snprintf(root_path, sizeof(root_path), "/proc/self/fd/%d", fs->root_fd);
	if (inotify_add_watch(watch->inotify_fd, root_path, WATCHED_EVENTS) < 0)
		goto fail;
	watch->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (watch->stop_fd < 0)
		goto fail;
	err = pthread_create(&watch->thread, NULL, watch_main, watch);
	if (err != 0) {
		errno = err;
		goto fail;
	}
	return watch;
fail:
	*error = g_strdup_printf("cannot watch SOURCE's top level: %s", g_strerror(errno));
	if (watch->inotify_fd >= 0)
		close(watch->inotify_fd);
	if (watch->stop_fd >= 0)
		close(watch->stop_fd);
	g_free(watch);
	return NULL;
}

void sv_watch_stop(struct sv_watch *watch)
{
	uint64_t one = 1;

	if (!watch)
		return;
	if (write(watch->stop_fd, &one, sizeof(one)) != sizeof(one))
		pthread_cancel(watch->thread);
	sv_fs_join_notifier(watch->fs, watch->thread, "the top-level watch");
	close(watch->inotify_fd);
	close(watch->stop_fd);
	g_free(watch);
}
