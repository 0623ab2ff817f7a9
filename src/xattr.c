/*
 * Extended attributes: SOURCE's own (trusted.* to root only), read through
 * the entry's parent, and under -o virtfs_xattrs the user.virtfs.* ones of
 * QEMU's mapped-xattr layout, made from the real owner and mode.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>
#include <glib.h>

#include "fs.h"
#include "ops.h"
#include "policy.h"
#include "virtfs.h"

/*
 * xattr calls have no *at() form here: go through /proc/self/fd of the
 * parent, whose last component (a checked name) is not followed.
 */
static int xattr_path(struct sv_fs *fs, struct sv_inode *inode, char *path, size_t size)
{
	const char *name;
	int dirfd = get_parent_fd(fs, inode, &name);

	if (dirfd < 0)
		return dirfd;
	if (*name)
		snprintf(path, size, "/proc/self/fd/%d/%s", dirfd, name);
	else
		snprintf(path, size, "/proc/self/fd/%d", dirfd);
	return 0;
}

/* The real lstat fields the mapped-xattr layout reports. */
static int real_stat_for_virtfs(struct sv_fs *fs, struct sv_inode *inode, struct stat *st)
{
	const char *name;
	int dirfd, ret = sv_inode_refused(inode);

	/* As SOURCE's own xattrs would: nothing of an entry revoked or gone. */
	if (ret < 0)
		return ret;
	memset(st, 0, sizeof(*st));
	st->st_mode = inode->mode;
	st->st_uid = inode->uid;
	st->st_gid = inode->gid;
	if (!S_ISCHR(inode->mode) && !S_ISBLK(inode->mode))
		return 0;
	/* Only device numbers are not kept in the inode table. */
	dirfd = get_parent_fd(fs, inode, &name);
	if (dirfd < 0)
		return dirfd;
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0)
		ret = -errno;
	put_parent_fd(fs, inode);
	return ret;
}

static void reply_synthesized_xattr(fuse_req_t req, struct sv_fs *fs, struct sv_inode *inode,
				    const char *xname, size_t size)
{
	g_autofree char *value = size ? g_malloc(size) : NULL;
	struct stat st;
	ssize_t len;
	int ret = real_stat_for_virtfs(fs, inode, &st);

	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	len = sv_virtfs_getxattr(&st, xname, value, size);
	if (len < 0)
		fuse_reply_err(req, (int)-len);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else
		fuse_reply_buf(req, value, (size_t)len);
}

void sv_getxattr(fuse_req_t req, fuse_ino_t ino, const char *xname, size_t size)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *inode = inode_of(fs, ino);
	char path[64 + NAME_MAX];
	g_autofree char *value = NULL;
	ssize_t len;
	int ret;

	if (!sv_policy_xattr_visible(xname, fuse_req_ctx(req)->uid)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (fs->opts->virtfs_xattrs && sv_virtfs_is_synthesized(xname)) {
		reply_synthesized_xattr(req, fs, inode, xname, size);
		return;
	}
	ret = xattr_path(fs, inode, path, sizeof(path));
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	value = size ? g_malloc(size) : NULL;
	/* The root's path is the /proc link itself, which must be followed. */
	if (inode->parent)
		len = lgetxattr(path, xname, value, size);
	else
		len = getxattr(path, xname, value, size);
	/* Before put_parent_fd(), whose contended lock may set errno. */
	ret = len < 0 ? -errno : 0;
	put_parent_fd(fs, inode);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else
		fuse_reply_buf(req, value, (size_t)len);
}

/*
 * Drops from a real list the names the caller may not see, and those the
 * mapped-xattr layout synthesizes if drop_synthesized.
 */
static size_t drop_names(char *list, size_t len, uid_t caller_uid, bool drop_synthesized)
{
	size_t out = 0;

	for (size_t i = 0; i < len;) {
		size_t n = strnlen(list + i, len - i) + 1;

		if (sv_policy_xattr_visible(list + i, caller_uid) &&
		    !(drop_synthesized && sv_virtfs_is_synthesized(list + i))) {
			memmove(list + out, list + i, n);
			out += n;
		}
		i += n;
	}
	return out;
}

void sv_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *inode = inode_of(fs, ino);
	char path[64 + NAME_MAX];
	/* Room for the whole real list plus the synthesized names. */
	g_autofree char *list = g_malloc(XATTR_LIST_MAX + 128);
	ssize_t len, extra;
	struct stat st;
	int ret = xattr_path(fs, inode, path, sizeof(path));

	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (inode->parent)
		len = llistxattr(path, list, XATTR_LIST_MAX);
	else
		len = listxattr(path, list, XATTR_LIST_MAX);
	ret = len < 0 ? -errno : 0;
	put_parent_fd(fs, inode);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	len = (ssize_t)drop_names(list, (size_t)len, fuse_req_ctx(req)->uid,
				  fs->opts->virtfs_xattrs);
	if (fs->opts->virtfs_xattrs) {
		ret = real_stat_for_virtfs(fs, inode, &st);
		if (ret < 0) {
			fuse_reply_err(req, -ret);
			return;
		}
		extra = sv_virtfs_listxattr(&st, list + len, 128);
		len += extra;
	}
	if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else if ((size_t)len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, list, (size_t)len);
}
