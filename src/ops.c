/*
 * The FUSE operations of the view on entries and open files, the helpers
 * the other handlers share (ops.h), and sv_ops, the table of them all.
 * Every entry is reached as (its parent's directory fd, its name) with
 * *at() calls that never follow symlinks.  Listings are in readdir.c,
 * xattrs in xattr.c, the answers to writes in read_only.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <glib.h>

#include "acl.h"
#include "closure_view.h"
#include "fs.h"
#include "ops.h"
#include "policy.h"
#include "source.h"
#include "virtfs.h"

#define MAX_GROUPS 64

struct sv_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

struct sv_inode *inode_of(struct sv_fs *fs, fuse_ino_t ino)
{
	return sv_inode_table_find(fs->inodes, ino);
}

fuse_ino_t ino_of(struct sv_fs *fs, struct sv_inode *inode)
{
	return inode->id;
}

bool caller_may(fuse_req_t req, struct sv_inode *inode, int want)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[MAX_GROUPS];
	struct sv_caller caller = { .uid = ctx->uid, .gid = ctx->gid };
	bool acl = sv_acl_extended(inode);
	mode_t mode = __atomic_load_n(&inode->mode, __ATOMIC_RELAXED);
	uid_t owner = __atomic_load_n(&inode->uid, __ATOMIC_RELAXED);
	gid_t group = __atomic_load_n(&inode->gid, __ATOMIC_RELAXED);

	if (acl || sv_policy_needs_groups(mode, owner, group, ctx->uid, ctx->gid, want)) {
		int n = fuse_req_getgroups(req, MAX_GROUPS, groups);

		if (n > 0) {
			caller.groups = groups;
			caller.ngroups = MIN(n, MAX_GROUPS);
		}
	}
	if (acl ? sv_acl_may_access(fs_of(req)->inodes, inode, &caller, want) :
		  sv_policy_may_access(mode, owner, group, &caller, want))
		return true;
	SV_STAT_ADD(fs_of(req), denied);
	return false;
}

int get_parent_fd(struct sv_fs *fs, struct sv_inode *inode, const char **name)
{
	/* A top-level entry's parent, the root, is never refused: ask the entry. */
	int refused = sv_inode_refused(inode);

	if (refused < 0)
		return refused;
	if (!inode->parent) {
		*name = "";
		return sv_inode_get_dirfd(fs->inodes, inode);
	}
	*name = inode->name;
	return sv_inode_get_dirfd(fs->inodes, inode->parent);
}

void put_parent_fd(struct sv_fs *fs, struct sv_inode *inode)
{
	sv_inode_put_dirfd(fs->inodes, inode->parent ? inode->parent : inode);
}

/*
 * What the view shows of inode, whose real lstat is st.  The kernel checks
 * access against these modes, from its cache, without asking the daemon
 * (with -o no_open not even at open): they must grant no more than SOURCE
 * does, its ACLs included.
 */
void present_attr(struct sv_fs *fs, const struct sv_inode *inode, struct stat *st)
{
	st->st_mode = sv_policy_narrow_mode(sv_acl_mode(inode, st->st_mode), st->st_uid,
					    fs->opts->uid);
	sv_policy_present_attr(st, fs->opts->uid, fs->opts->gid);
	if (fs->opts->virtfs_xattrs)
		sv_virtfs_present_attr(st);
}

static bool same_inode(const struct stat *st, const struct sv_inode *inode)
{
	return st->st_dev == inode->dev && st->st_ino == inode->ino;
}

/*
 * What the daemon's own checks know of inode, from st, a fresh stat of it:
 * the kernel's cached attributes, and so its checks, may predate a mode or
 * ACL tightened in SOURCE.
 */
static void refresh_inode(struct sv_fs *fs, struct sv_inode *inode, const struct stat *st)
{
	sv_inode_refresh(inode, st);
	sv_acl_refresh(fs->inodes, inode, st);
}

int stat_inode(struct sv_fs *fs, struct sv_inode *inode, struct stat *st)
{
	const char *name;
	int dirfd, ret = 0;

	dirfd = get_parent_fd(fs, inode, &name);
	if (dirfd < 0)
		return dirfd;
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0)
		ret = -errno;
	else if (!same_inode(st, inode))
		ret = -ESTALE;
	put_parent_fd(fs, inode);
	if (ret == 0) {
		refresh_inode(fs, inode, st);
		present_attr(fs, inode, st);
	}
	return ret;
}

static void sv_init(void *userdata, struct fuse_conn_info *conn)
{
	struct sv_fs *fs = userdata;

	/* Replies to reads splice straight from the backing file. */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	sv_passthrough_want(fs->passthrough, conn);
	/* Every listing with attributes: a walk then needs no lookup per entry. */
	conn->want &= ~(unsigned int)FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		fs->no_opendir = true;
	}
	conn->want &= ~(unsigned int)(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS |
				      FUSE_CAP_WRITEBACK_CACHE);
	conn->time_gran = 1;
}

void enter_entry(struct sv_fs *fs, struct sv_inode *parent, const char *name,
			struct fuse_entry_param *e)
{
	struct sv_inode *inode = sv_inode_table_lookup(fs->inodes, parent, name, &e->attr);

	refresh_inode(fs, inode, &e->attr);
	present_attr(fs, inode, &e->attr);
	e->ino = ino_of(fs, inode);
	e->attr_timeout = fs->opts->timeout;
	e->entry_timeout = fs->opts->timeout;
	SV_STAT_ADD(fs, lookups);
}

int do_lookup(struct sv_fs *fs, struct sv_inode *parent, int dirfd,
		     const char *name, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	if (fstatat(dirfd, name, &e->attr, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	enter_entry(fs, parent, name, e);
	return 0;
}

static void sv_lookup(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *parent = inode_of(fs, parent_ino);
	struct fuse_entry_param e;
	struct stat st;
	int dirfd, ret;

	if (!sv_policy_name_is_valid(name)) {
		fuse_reply_err(req, strlen(name) > NAME_MAX ? ENAMETOOLONG : ENOENT);
		return;
	}
	if (!sv_closure_view_shows(fs, parent, name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	dirfd = sv_inode_get_dirfd(fs->inodes, parent);
	if (dirfd < 0) {
		fuse_reply_err(req, -dirfd);
		return;
	}
	/* The fd is the directory's own: its mode now decides. */
	if (fstat(dirfd, &st) < 0) {
		ret = -errno;
	} else {
		refresh_inode(fs, parent, &st);
		ret = caller_may(req, parent, SV_ACCESS_EXEC) ? do_lookup(fs, parent, dirfd, name, &e) :
								 -EACCES;
	}
	sv_inode_put_dirfd(fs->inodes, parent);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

static void sv_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct sv_fs *fs = fs_of(req);

	sv_inode_table_forget(fs->inodes, inode_of(fs, ino), nlookup);
	SV_STAT_ADD(fs, forgets);
	fuse_reply_none(req);
}

static void sv_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct sv_fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++) {
		sv_inode_table_forget(fs->inodes, inode_of(fs, forgets[i].ino),
				      forgets[i].nlookup);
		SV_STAT_ADD(fs, forgets);
	}
	fuse_reply_none(req);
}

/*
 * The presented attributes of a regular file.  An open file outlives its
 * name (a store path collected while a VM reads it): while one is open,
 * they come from the fd its handle names, which all open files of the
 * inode share, also for an fstat(2), which comes without a handle.
 */
static int stat_regular_file(struct sv_fs *fs, struct sv_inode *inode,
			     const struct fuse_file_info *fi, struct stat *st)
{
	int ret;

	if (fi)
		ret = fstat((int)fi->fh, st) < 0 ? -errno : 0;
	else if ((ret = sv_open_files_stat(fs->open_files, inode, st)) == -ENOENT)
		return stat_inode(fs, inode, st);
	if (ret == 0) {
		refresh_inode(fs, inode, st);
		present_attr(fs, inode, st);
	}
	return ret;
}

static void sv_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *inode = inode_of(fs, ino);
	struct stat st;
	int ret;

	/* Under no_open fi->fh is the kernel's 0, and the daemon holds no open file. */
	if (S_ISREG(inode->mode) && !fs->opts->no_open)
		ret = stat_regular_file(fs, inode, fi, &st);
	else
		ret = stat_inode(fs, inode, &st);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, fs->opts->timeout);
}

static void sv_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *inode = inode_of(fs, ino);
	char target[PATH_MAX + 1];
	const char *name;
	ssize_t len;
	int dirfd, err;

	if (!S_ISLNK(inode->mode)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	dirfd = get_parent_fd(fs, inode, &name);
	if (dirfd < 0) {
		fuse_reply_err(req, -dirfd);
		return;
	}
	len = readlinkat(dirfd, name, target, sizeof(target));
	/* Before put_parent_fd(), whose contended lock may set errno. */
	err = len < 0 ? errno : 0;
	put_parent_fd(fs, inode);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	if ((size_t)len >= sizeof(target)) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	target[len] = '\0';
	fuse_reply_readlink(req, target);
}

/*
 * In the mapped-xattr layout a symlink is a regular file holding its target,
 * and a special file an empty one: serve that content from memory, never
 * opening the entry itself (a device or fifo must not be opened).
 */
static int open_shown_as_file(struct sv_fs *fs, struct sv_inode *inode)
{
	char target[PATH_MAX + 1];
	ssize_t len = 0, written;
	int fd, err;

	/* Made up without SOURCE, so the revocation check is not on the way. */
	if ((err = sv_inode_refused(inode)) < 0)
		return err;
	if (S_ISLNK(inode->mode)) {
		const char *name;
		int dirfd = get_parent_fd(fs, inode, &name);

		if (dirfd < 0)
			return dirfd;
		len = readlinkat(dirfd, name, target, sizeof(target));
		err = len < 0 ? -errno : 0;
		put_parent_fd(fs, inode);
		if (err < 0)
			return err;
	}
	fd = memfd_create("storeview-entry", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (len > 0 && (written = pwrite(fd, target, (size_t)len, 0)) != len) {
		err = written < 0 ? -errno : -EIO;
		close(fd);
		return err;
	}
	return fd;
}

static int open_backing_file(struct sv_fs *fs, struct sv_inode *inode, int flags,
			     struct stat *st)
{
	const char *name;
	int dirfd, fd;

	dirfd = get_parent_fd(fs, inode, &name);
	if (dirfd < 0)
		return dirfd;
	fd = sv_source_open_file(dirfd, name, flags, st);
	put_parent_fd(fs, inode);
	if (fd >= 0 && !same_inode(st, inode)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/*
 * The first file of a directory read from its start (through the daemon,
 * or by passthrough: see read_by_passthrough()) starts reading data
 * ahead from there, unless the thread is in that store path already.  It
 * gets the directory and those above it, up to the store path, open from
 * here, so that it never has to go up through "..".
 */
static void read_ahead_from(struct sv_fs *fs, struct sv_inode *inode)
{
	struct sv_inode *dir = inode->parent, *store, *up;
	GArray *dir_fds;

	if (!dir || __atomic_exchange_n(&dir->data_read_ahead, true, __ATOMIC_RELAXED))
		return;
	/* Top-level entries are unrelated store paths. */
	if (!dir->parent)
		return;
	for (store = dir; store->parent->parent; store = store->parent)
		;
	if (sv_readahead_in(fs->readahead, store->dev, store->ino))
		return;
	dir_fds = g_array_new(FALSE, FALSE, sizeof(int));
	for (up = dir; dir_fds->len < SV_READAHEAD_MAX_LEVELS; up = up->parent) {
		int fd = open_dir_fd(fs, up);

		if (fd < 0)
			break;
		g_array_append_val(dir_fds, fd);
		if (up == store)
			break;
	}
	sv_readahead_start(fs->readahead, dir_fds, store->dev, store->ino);
}

/*
 * A file read by passthrough shows the daemon no READ, which is what
 * starts reading data ahead through the daemon (see sv_read()); nor does
 * its open show that it will be read (open+close, stat).  So the first file
 * of a directory whose data is not all in memory when opened marks the
 * directory, and the release of a file of it that was read by then starts
 * reading ahead from there (read_by_passthrough()).  A file in memory at
 * its open marks nothing: SOURCE is warm there.
 */
static void note_cold_open(struct sv_inode *inode, int fd, off_t size)
{
	static bool failure_said;
	struct sv_inode *dir = inode->parent;
	long long cached;

	if (!dir || size == 0 || size > SV_READAHEAD_MAX_FILE_SIZE ||
	    __atomic_load_n(&dir->data_read_ahead, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&dir->cold_file_opened, __ATOMIC_RELAXED))
		return;
	cached = sv_readahead_cached_bytes(fd);
	/*
	 * Every kernel with passthrough has cachestat(2), but a seccomp filter
	 * or a valgrind that knows no cachestat (3.19) may keep it from the kernel.
	 */
	if (cached < 0 && !__atomic_exchange_n(&failure_said, true, __ATOMIC_RELAXED))
		g_warning("cachestat(2) fails (%s): no file read by passthrough starts the data read-ahead",
			  g_strerror(errno));
	if (cached >= 0 && cached < size)
		__atomic_store_n(&dir->cold_file_opened, true, __ATOMIC_RELAXED);
}

/*
 * An open file read by passthrough, fd, is released: what SOURCE holds of
 * it in memory counts as read through the view (the window moves on), and
 * if it was read, in a directory marked by note_cold_open(), reading ahead
 * starts from there.
 */
static void read_by_passthrough(struct sv_fs *fs, struct sv_inode *inode, int fd)
{
	long long cached = sv_readahead_cached_bytes(fd);

	if (cached <= 0)
		return;
	sv_readahead_consumed(fs->readahead, (size_t)cached);
	if (inode->parent && __atomic_load_n(&inode->parent->cold_file_opened, __ATOMIC_RELAXED))
		read_ahead_from(fs, inode);
}

/*
 * The flags to open SOURCE's file with, or a negative errno for an open
 * that would write.  Counts the open, and the O_NOATIME it drops.
 */
static int backing_flags(struct sv_fs *fs, const struct sv_inode *inode, int client_flags,
			 int *flags)
{
	bool dropped_noatime;
	int ret;

	SV_STAT_ADD(fs, opens);
	ret = sv_policy_backing_open_flags(client_flags, flags, &dropped_noatime);
	if (dropped_noatime) {
		SV_STAT_ADD(fs, noatime_dropped);
		g_debug("open of inode %lu asked for O_NOATIME: dropped", (unsigned long)inode->ino);
	}
	return ret;
}

/* Store files never change: keep their pages, and closing needs no flush. */
static void keep_pages(struct fuse_file_info *fi)
{
	fi->keep_cache = 1;
	fi->noflush = 1;
}

/* An entry shown as a file (virtfs_xattrs): each open file gets a memfd of its own. */
static void open_shown_entry(fuse_req_t req, struct sv_fs *fs, struct sv_inode *inode,
			     struct fuse_file_info *fi)
{
	int fd;

	if (!caller_may(req, inode, SV_ACCESS_READ)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fd = open_shown_as_file(fs, inode);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	keep_pages(fi);
	fi->fh = (uint64_t)fd;
	if (fuse_reply_open(req, fi) == -ENOENT)
		close(fd);
}

/*
 * A regular file: opened in SOURCE with flags, checked by the mode it has
 * now, which opening it told, and read by passthrough where the kernel
 * allows it.
 */
static void open_regular_file(fuse_req_t req, struct sv_fs *fs, struct sv_inode *inode,
			      struct fuse_file_info *fi, int flags)
{
	struct stat st;
	int fd, ret, backing_id;

	fd = open_backing_file(fs, inode, flags, &st);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	refresh_inode(fs, inode, &st);
	if (!caller_may(req, inode, SV_ACCESS_READ)) {
		close(fd);
		fuse_reply_err(req, EACCES);
		return;
	}
	/* Where the reader is, for the data read-ahead to know if it is behind. */
	if (fs->readahead)
		sv_readahead_opened(fs->readahead);
	keep_pages(fi);
	fi->fh = (uint64_t)sv_open_files_add(fs->open_files, inode, fd, true, &backing_id);
	if (backing_id > 0) {
		SV_STAT_ADD(fs, passthrough);
		if (fs->readahead)
			note_cold_open(inode, (int)fi->fh, st.st_size);
		ret = sv_passthrough_reply_open(req, fi, backing_id);
	} else {
		ret = fuse_reply_open(req, fi);
	}
	/* Interrupted: the kernel will send no release. */
	if (ret == -ENOENT)
		sv_open_files_release(fs->open_files, inode);
}

static void sv_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *inode = inode_of(fs, ino);
	int flags, ret;

	ret = backing_flags(fs, inode, fi->flags, &flags);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	/* The kernel then opens files alone, and reads come without a handle. */
	if (fs->opts->no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (fs->opts->virtfs_xattrs && sv_virtfs_shown_as_file(inode->mode)) {
		open_shown_entry(req, fs, inode, fi);
		return;
	}
	/* Only regular files are ever opened for I/O on the host. */
	if (!S_ISREG(inode->mode)) {
		fuse_reply_err(req, S_ISDIR(inode->mode) ? EISDIR : EACCES);
		return;
	}
	open_regular_file(req, fs, inode, fi, flags);
}

static void sv_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *inode = inode_of(fs, ino);
	bool as_file = false;
	int fd = (int)fi->fh;

	SV_STAT_ADD(fs, reads);
	if (fs->readahead) {
		sv_readahead_consumed(fs->readahead, size);
		if (offset == 0)
			read_ahead_from(fs, inode);
	}
	/* No handle with no_open: a cached fd, or content made for this read. */
	if (fs->opts->no_open) {
		as_file = fs->opts->virtfs_xattrs && sv_virtfs_shown_as_file(inode->mode);
		fd = as_file ? open_shown_as_file(fs, inode) : sv_inode_get_readfd(fs->inodes, inode);
		if (fd < 0) {
			fuse_reply_err(req, -fd);
			return;
		}
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = offset;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
	if (as_file)
		close(fd);
	else if (fs->opts->no_open)
		sv_inode_put_dirfd(fs->inodes, inode);
}

static void sv_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *inode = inode_of(fs, ino);

	/*
	 * Under no_open the kernel sends none; never close its 0 if it did,
	 * nor a handle that came with an id the table does not hold (id 0).
	 */
	if (!fs->opts->no_open && inode->id) {
		if (S_ISREG(inode->mode) && fs->readahead &&
		    sv_open_files_by_passthrough(fs->open_files, inode))
			read_by_passthrough(fs, inode, (int)fi->fh);
		if (S_ISREG(inode->mode))
			sv_open_files_release(fs->open_files, inode);
		else
			close((int)fi->fh);	/* the memfd of an entry shown as a file */
	}
	fuse_reply_err(req, 0);
}

/* Nothing is ever written: ENOSYS tells the kernel to stop asking. */
static void sv_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, ENOSYS);
}

static void sv_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct sv_fs *fs = fs_of(req);
	struct statvfs sv;

	if (fstatvfs(fs->root_fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}


const struct fuse_lowlevel_ops sv_ops = {
	.init = sv_init,
	.lookup = sv_lookup,
	.forget = sv_forget,
	.forget_multi = sv_forget_multi,
	.getattr = sv_getattr,
	.readlink = sv_readlink,
	.opendir = sv_opendir,
	.readdir = sv_readdir,
	.readdirplus = sv_readdirplus,
	.open = sv_open,
	.read = sv_read,
	.release = sv_release,
	.flush = sv_flush,
	.statfs = sv_statfs,
	.getxattr = sv_getxattr,
	.listxattr = sv_listxattr,
	.setattr = sv_setattr,
	.mknod = sv_mknod,
	.mkdir = sv_mkdir,
	.unlink = sv_remove,
	.rmdir = sv_remove,
	.symlink = sv_symlink,
	.rename = sv_rename,
	.link = sv_link,
	.create = sv_create,
	.write_buf = sv_write_buf,
	.setxattr = sv_setxattr,
	.removexattr = sv_removexattr,
	.fallocate = sv_fallocate,
	.copy_file_range = sv_copy_file_range,
};
