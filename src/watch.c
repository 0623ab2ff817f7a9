/*
 * The top-level watcher; see watch.h.  New names need no notice: the view
 * never lets the kernel cache a failed lookup, so a path added to SOURCE is
 * found by the next lookup.  Names that leave need one, as the kernel keeps
 * their entries for the whole timeout (an hour by default); and what a
 * client holds below a path that left is refused, wherever it went.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "notify.h"
#include "watch.h"

#define WATCHED_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			IN_ATTRIB | IN_ONLYDIR | IN_EXCL_UNLINK)

struct sv_watch {
	struct sv_fs *fs;
	int inotify_fd;
	int stop_fd;		/* an eventfd: written to stop the thread */
	pthread_t thread;
};

/*
 * Refuses what the kernel holds at and below these names of the root, if
 * they no longer lead to it in SOURCE (removed, or moved away while held),
 * and makes the kernel forget it; allows it again if they lead to it again.
 */
static void recheck_top_level(struct sv_fs *fs, GPtrArray *names)
{
	g_autoptr(GArray) gone = NULL;

	if (names->len == 0)
		return;
	gone = sv_inode_table_recheck(fs->inodes, names);
	sv_notify_forget_entries(fs, gone);
}

/*
 * Handles one batch of events (never empty); false once the watch is gone
 * (SOURCE's root removed).  Any event changed the root itself too.
 */
static bool handle_events(struct sv_watch *watch, const char *buf, ssize_t len)
{
	struct sv_fs *fs = watch->fs;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) moved = g_ptr_array_new_with_free_func(g_free);
	bool watching = true;

	for (const char *p = buf; p < buf + len;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;

		if (ev->mask & IN_Q_OVERFLOW) {
			/* Events were lost: every name the kernel may hold is suspect. */
			g_autoptr(GPtrArray) all = sv_inode_table_child_names(
				fs->inodes, sv_inode_table_root(fs->inodes));

			g_message("SOURCE changed faster than inotify reports; rechecking %u top-level entries",
				  all->len);
			for (guint i = 0; i < all->len; i++)
				g_ptr_array_add(moved, g_strdup(all->pdata[i]));
			g_ptr_array_extend_and_steal(names, g_steal_pointer(&all));
		} else if (ev->len > 0) {
			if (ev->mask & (IN_DELETE | IN_MOVED_FROM | IN_ATTRIB))
				g_ptr_array_add(names, g_strdup(ev->name));
			/* A path moved back in leads to its inodes again. */
			if (ev->mask & (IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))
				g_ptr_array_add(moved, g_strdup(ev->name));
		}
		if (ev->mask & IN_IGNORED)
			watching = false;
		p += sizeof(*ev) + ev->len;
	}
	recheck_top_level(fs, moved);
	sv_notify_forget_top_level(fs, names);
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
	const char *failure = NULL;

	for (;;) {
		ssize_t len;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			failure = g_strerror(errno);
			break;
		}
		if (fds[1].revents)
			break;
		len = read(watch->inotify_fd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0) {
			failure = len < 0 ? g_strerror(errno) : "end of events";
			break;
		}
		if (!handle_events(watch, buf, len)) {
			g_warning("SOURCE's root is gone; the view no longer follows its top level");
			break;
		}
	}
	if (failure)
		g_warning("top-level watch: %s; removed store paths now show until the timeout",
			  failure);
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
	sv_notify_join(watch->fs, watch->thread, "the top-level watch");
	close(watch->inotify_fd);
	close(watch->stop_fd);
	g_free(watch);
}
