/* Opening SOURCE and its files; see source.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <glib.h>

#include "source.h"

#if defined(HAVE_OPEN_TREE) && defined(HAVE_MOUNT_SETATTR)
/* A detached, locked-down bind mount of dirfd, or a negative errno. */
static int private_readonly_tree(int dirfd)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
			    MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOATIME | MOUNT_ATTR_NOSYMFOLLOW,
		.attr_clr = MOUNT_ATTR__ATIME,
	};
	int tree = open_tree(dirfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
					    AT_RECURSIVE | AT_EMPTY_PATH);

	if (tree < 0)
		return -errno;
	if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
		int err = -errno;

		close(tree);
		return err;
	}
	return tree;
}
#endif

/*
 * Without a private noatime clone, reads through the view leave SOURCE's
 * atimes alone only where SOURCE's own mount is read-only or noatime
 * (relatime still updates an atime older than the mtime, or than a day).
 */
static void warn_if_atimes_change(int fd, const char *source)
{
	struct statvfs st;

	if (fstatvfs(fd, &st) == 0 && (st.f_flag & (ST_RDONLY | ST_NOATIME)))
		return;
	g_warning("reads through the view update atimes in SOURCE '%s': without root it cannot "
		  "be cloned read-only and noatime, and its own mount is neither", source);
}

int sv_source_open(const char *source, char **error)
{
	int fd = open(source, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		*error = g_strdup_printf("SOURCE '%s': %s", source,
					 errno == ENOTDIR ? "not a directory" : g_strerror(errno));
		return -1;
	}
#if defined(HAVE_OPEN_TREE) && defined(HAVE_MOUNT_SETATTR)
	int tree = private_readonly_tree(fd);

	if (tree >= 0) {
		close(fd);
		return tree;
	}
	if (geteuid() == 0) {
		g_warning("cannot lock SOURCE down in a private read-only noatime mount (%s): "
			  "reads through the view may update atimes in SOURCE", g_strerror(-tree));
		return fd;
	}
	g_debug("not root: SOURCE is used as it is mounted (%s)", g_strerror(-tree));
#endif
	warn_if_atimes_change(fd, source);
	return fd;
}

int sv_source_open_file(int dirfd, const char *name, int flags, struct stat *st)
{
	int fd = openat(dirfd, name, flags | O_NONBLOCK);
	int err;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		err = -ESTALE;
		goto fail;
	}
	/* Then an fd like any other: only the open had to be kept from waiting. */
	if (fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		err = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}
