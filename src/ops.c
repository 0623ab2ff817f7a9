/*
 * The FUSE operations of the view.  Every entry is reached as (its parent's
 * directory fd, its name) with *at() calls that never follow symlinks;
 * every writing operation answers EROFS.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib.h>

#include "fs.h"
#include "policy.h"
#include "virtfs.h"

#define MAX_GROUPS 64

static struct sv_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct sv_inode *inode_of(struct sv_fs *fs, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return sv_inode_table_root(fs->inodes);
	return (struct sv_inode *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(struct sv_fs *fs, struct sv_inode *inode)
{
	if (inode == sv_inode_table_root(fs->inodes))
		return FUSE_ROOT_ID;
	return (fuse_ino_t)(uintptr_t)inode;
}

/* Checks the caller against SOURCE's real owner and mode, see policy.h. */
static bool caller_may(fuse_req_t req, const struct sv_inode *inode, int want)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[MAX_GROUPS];
	struct sv_caller caller = { .uid = ctx->uid, .gid = ctx->gid };

	if (sv_policy_needs_groups(inode->mode, inode->uid, inode->gid,
				   ctx->uid, ctx->gid, want)) {
		int n = fuse_req_getgroups(req, MAX_GROUPS, groups);

		if (n > 0) {
			caller.groups = groups;
			caller.ngroups = MIN(n, MAX_GROUPS);
		}
	}
	if (sv_policy_may_access(inode->mode, inode->uid, inode->gid, &caller, want))
		return true;
	SV_STAT_ADD(fs_of(req), denied);
	return false;
}

/*
 * The directory an entry is reached from, held until put_parent_fd();
 * for the root, the root itself with an empty name (use AT_EMPTY_PATH).
 */
static int get_parent_fd(struct sv_fs *fs, struct sv_inode *inode, const char **name)
{
	if (!inode->parent) {
		*name = "";
		return sv_inode_get_dirfd(fs->inodes, inode);
	}
	*name = inode->name;
	return sv_inode_get_dirfd(fs->inodes, inode->parent);
}

static void put_parent_fd(struct sv_fs *fs, struct sv_inode *inode)
{
	sv_inode_put_dirfd(fs->inodes, inode->parent ? inode->parent : inode);
}

/*
 * What the view shows of an entry whose real lstat is st.  The kernel
 * checks access against these modes, from its cache, without asking the
 * daemon: they must grant no more than SOURCE does.
 */
static void present_attr(struct sv_fs *fs, struct stat *st)
{
	st->st_mode = sv_policy_narrow_mode(st->st_mode, st->st_uid, fs->opts->uid);
	sv_policy_present_attr(st, fs->opts->uid, fs->opts->gid);
	if (fs->opts->virtfs_xattrs)
		sv_virtfs_present_attr(st);
}

static bool same_inode(const struct stat *st, const struct sv_inode *inode)
{
	return st->st_dev == inode->dev && st->st_ino == inode->ino;
}

static int stat_inode(struct sv_fs *fs, struct sv_inode *inode, struct stat *st)
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
	if (ret == 0)
		present_attr(fs, st);
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

/*
 * Enters name in parent, whose real lstat e->attr holds, and counts one
 * kernel lookup of it.
 */
static void enter_entry(struct sv_fs *fs, struct sv_inode *parent, const char *name,
			struct fuse_entry_param *e)
{
	struct sv_inode *inode = sv_inode_table_lookup(fs->inodes, parent, name, &e->attr);

	present_attr(fs, &e->attr);
	e->ino = ino_of(fs, inode);
	e->attr_timeout = fs->opts->timeout;
	e->entry_timeout = fs->opts->timeout;
	SV_STAT_ADD(fs, lookups);
}

/* Looks name up in parent and counts one kernel lookup of the result. */
static int do_lookup(struct sv_fs *fs, struct sv_inode *parent, int dirfd,
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
	int dirfd, ret;

	if (!sv_policy_name_is_valid(name)) {
		fuse_reply_err(req, strlen(name) > NAME_MAX ? ENAMETOOLONG : ENOENT);
		return;
	}
	if (!sv_fs_visible(fs, parent, name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!caller_may(req, parent, SV_ACCESS_EXEC)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	dirfd = sv_inode_get_dirfd(fs->inodes, parent);
	if (dirfd < 0) {
		fuse_reply_err(req, -dirfd);
		return;
	}
	ret = do_lookup(fs, parent, dirfd, name, &e);
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
	fuse_reply_none(req);
}

static void sv_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct sv_fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		sv_inode_table_forget(fs->inodes, inode_of(fs, forgets[i].ino),
				      forgets[i].nlookup);
	fuse_reply_none(req);
}

static void sv_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *inode = inode_of(fs, ino);
	struct stat st;
	int ret;

	/*
	 * An open file outlives its name: a store path collected while a VM
	 * reads it.  (Entries shown as files by virtfs have a memfd instead.)
	 */
	if (fi && S_ISREG(inode->mode)) {
		ret = fstat((int)fi->fh, &st) < 0 ? -errno : 0;
		if (ret == 0)
			present_attr(fs, &st);
	} else {
		ret = stat_inode(fs, inode, &st);
	}
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
	int dirfd;

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
	put_parent_fd(fs, inode);
	if (len < 0) {
		fuse_reply_err(req, errno);
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
 * Directories are listed without a handle (see do_readdir()), and the
 * kernel keeps every listing: the watcher drops the root's when it changes.
 * Given ENOSYS once, a kernel that can do without stops sending opendirs.
 */
static void sv_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sv_fs *fs = fs_of(req);

	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/* A readable fd of dir_inode, or a negative errno. */
static int open_dir_fd(struct sv_fs *fs, struct sv_inode *dir_inode)
{
	int fd, dfd;

	fd = sv_inode_get_dirfd(fs->inodes, dir_inode);
	if (fd < 0)
		return fd;
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		dfd = -errno;
	sv_inode_put_dirfd(fs->inodes, dir_inode);
	return dfd;
}

/* Opens a stream of dir_inode's entries; returns 0 or a negative errno. */
static int open_dir_stream(struct sv_fs *fs, struct sv_inode *dir_inode, DIR **dp)
{
	int dfd = open_dir_fd(fs, dir_inode);

	if (dfd < 0)
		return dfd;
	*dp = fdopendir(dfd);
	if (!*dp) {
		int err = -errno;

		close(dfd);
		return err;
	}
	return 0;
}

/*
 * Where a reply's entries come from: SOURCE's directory, or a listing read
 * ahead.  Either way an entry is as readdir gave it; st is its lstat if
 * that is already known.
 */
struct entry_source {
	DIR *dir;
	struct sv_listing *listing;
	unsigned int next;		/* the listing's next entry */
	int err;			/* why SOURCE's entries ended early */
	bool full;			/* the reply is: entries are left */
};

struct entry {
	const char *name;
	ino_t ino;
	unsigned char type;
	off_t next_offset;
	const struct stat *st;
};

static bool next_entry(struct entry_source *from, struct entry *entry)
{
	struct dirent *d;

	if (from->listing) {
		const struct sv_listing_entry *e;

		do {
			if (from->next == from->listing->count)
				return false;
			e = &from->listing->entries[from->next++];
		} while (e->vanished);
		*entry = (struct entry){ e->name, e->ino, e->type, e->next_offset, &e->st };
		return true;
	}
	errno = 0;
	d = readdir(from->dir);
	if (!d) {
		from->err = errno;
		return false;
	}
	*entry = (struct entry){ d->d_name, d->d_ino, d->d_type, d->d_off, NULL };
	return true;
}

/* Whether the listing ran to the directory's end. */
static bool source_at_end(const struct entry_source *from)
{
	if (from->full)
		return false;
	if (from->listing)
		return from->next == from->listing->count && from->listing->complete;
	return from->err == 0;
}

/* Adds one directory entry to buf; returns its size, more than rem if it did not fit. */
static size_t add_entry(fuse_req_t req, struct sv_fs *fs, struct sv_inode *dir_inode,
			int dirfd, const struct entry *entry, char *buf, size_t rem, bool plus,
			int *err)
{
	struct fuse_entry_param e = { 0 };
	size_t size;

	*err = 0;
	if (!sv_policy_is_dot_or_dotdot(entry->name) && !sv_fs_visible(fs, dir_inode, entry->name)) {
		*err = -ENOENT;
		return 0;
	}
	if (!plus) {
		struct stat st = { .st_ino = entry->ino, .st_mode = (mode_t)entry->type << 12 };

		if (fs->opts->virtfs_xattrs && entry->type != DT_UNKNOWN)
			sv_virtfs_present_attr(&st);
		return fuse_add_direntry(req, buf, rem, entry->name, &st, entry->next_offset);
	}
	if (sv_policy_is_dot_or_dotdot(entry->name)) {
		e.attr.st_ino = entry->ino;
		e.attr.st_mode = (mode_t)entry->type << 12;
	} else if (entry->st) {
		e.attr = *entry->st;
		enter_entry(fs, dir_inode, entry->name, &e);
	} else {
		*err = do_lookup(fs, dir_inode, dirfd, entry->name, &e);
		if (*err < 0)
			return 0;
	}
	size = fuse_add_direntry_plus(req, buf, rem, entry->name, &e, entry->next_offset);
	/* The kernel will not see this entry now: undo its lookup. */
	if (size > rem && e.ino)
		sv_inode_table_forget(fs->inodes, inode_of(fs, e.ino), 1);
	return size;
}

/*
 * The listing read ahead that goes on after offset in dir_inode, or NULL.
 * One lstat checks that it still shows this directory as it is: a store
 * path collected and made again can come back under the same number.
 */
static struct sv_listing *listing_read_ahead(struct sv_fs *fs, struct sv_inode *dir_inode,
					     off_t offset, unsigned int *next)
{
	struct sv_listing *listing;
	struct stat st;

	listing = sv_prefetch_find(fs->prefetch, dir_inode->dev, dir_inode->ino, offset, next);
	if (!listing)
		return NULL;
	if (stat_inode(fs, dir_inode, &st) < 0 ||
	    st.st_mtim.tv_sec != listing->mtime.tv_sec || st.st_mtim.tv_nsec != listing->mtime.tv_nsec ||
	    st.st_ctim.tv_sec != listing->ctime.tv_sec || st.st_ctim.tv_nsec != listing->ctime.tv_nsec) {
		sv_prefetch_used(fs->prefetch, listing);
		sv_listing_unref(listing);
		return NULL;
	}
	return listing;
}

/*
 * Lists a directory from a listing read ahead (see prefetch.h), or else
 * from a stream opened for this request and sought to where the last one
 * stopped; the walker is then ahead of the read-ahead, which goes on from
 * here.  The kernel knows a listing is complete only from an empty reply,
 * which costs a second request per directory: below the top level, where
 * nothing changes, that one is answered without opening the directory
 * again.
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, bool plus)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *dir_inode = inode_of(fs, ino);
	bool below_top_level = dir_inode->parent != NULL;
	struct entry_source from = { 0 };
	g_autofree char *buf = NULL;
	GArray *subdirs = NULL;
	off_t next_offset = offset;
	size_t used = 0;
	struct entry entry;
	int err;

	if (below_top_level && offset != 0 &&
	    offset == __atomic_load_n(&dir_inode->listing_end, __ATOMIC_RELAXED)) {
		SV_STAT_ADD(fs, listing_ends);
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	buf = g_malloc(size);
	if (fs->prefetch && below_top_level)
		from.listing = listing_read_ahead(fs, dir_inode, offset, &from.next);
	if (from.listing) {
		SV_STAT_ADD(fs, read_ahead_used);
	} else {
		err = open_dir_stream(fs, dir_inode, &from.dir);
		if (err < 0) {
			fuse_reply_err(req, -err);
			return;
		}
		if (fs->prefetch)
			subdirs = sv_subdirs_new();
		if (offset != 0)
			seekdir(from.dir, offset);
	}
	/* A path collected and made again may come back under the same number. */
	if (offset == 0 && below_top_level)
		__atomic_store_n(&dir_inode->listing_end, 0, __ATOMIC_RELAXED);
	while (next_entry(&from, &entry)) {
		size_t entsize = add_entry(req, fs, dir_inode, from.dir ? dirfd(from.dir) : -1,
					   &entry, buf + used, size - used, plus, &err);

		if (err == 0 && entsize > size - used) {
			from.full = true;
			break;
		}
		/* Hidden entries, and ones that vanished since readdir, are not listed. */
		if (err == 0 && subdirs && entry.type == DT_DIR &&
		    !sv_policy_is_dot_or_dotdot(entry.name))
			sv_subdirs_add(subdirs, entry.name, entry.ino);
		if (err == 0) {
			used += entsize;
			next_offset = entry.next_offset;
		}
	}
	if (source_at_end(&from) && below_top_level)
		__atomic_store_n(&dir_inode->listing_end, next_offset, __ATOMIC_RELAXED);
	if (from.err > 0 && used == 0)
		fuse_reply_err(req, from.err);
	else
		fuse_reply_buf(req, buf, used);
	if (from.listing) {
		if (from.next == from.listing->count && !from.full)
			sv_prefetch_used(fs->prefetch, from.listing);
		sv_listing_unref(from.listing);
	} else if (subdirs) {
		/* The top level changes: no listing of it is kept. */
		sv_prefetch_missed(fs->prefetch, dir_inode->dev, dir_inode->ino, from.dir,
				   below_top_level && !source_at_end(&from), next_offset, subdirs);
	} else {
		closedir(from.dir);
	}
}

static void sv_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, false);
}

static void sv_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, true);
}

/*
 * In the mapped-xattr layout a symlink is a regular file holding its target,
 * and a special file an empty one: serve that content from memory, never
 * opening the entry itself (a device or fifo must not be opened).
 */
static int open_shown_as_file(struct sv_fs *fs, struct sv_inode *inode)
{
	char target[PATH_MAX + 1];
	ssize_t len = 0;
	int fd;

	if (S_ISLNK(inode->mode)) {
		const char *name;
		int dirfd = get_parent_fd(fs, inode, &name);

		if (dirfd < 0)
			return dirfd;
		len = readlinkat(dirfd, name, target, sizeof(target));
		put_parent_fd(fs, inode);
		if (len < 0)
			return -errno;
	}
	fd = memfd_create("storeview-entry", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (len > 0 && pwrite(fd, target, (size_t)len, 0) != len) {
		int err = errno ? -errno : -EIO;

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
	fd = openat(dirfd, name, flags);
	if (fd < 0)
		fd = -errno;
	put_parent_fd(fs, inode);
	if (fd >= 0 && (fstat(fd, st) < 0 || !same_inode(st, inode))) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static void sv_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *inode = inode_of(fs, ino);
	bool dropped_noatime, as_file;
	struct stat st;
	int flags, fd, ret, backing_id;

	SV_STAT_ADD(fs, opens);
	ret = sv_policy_backing_open_flags(fi->flags, &flags, &dropped_noatime);
	if (dropped_noatime) {
		SV_STAT_ADD(fs, noatime_dropped);
		g_debug("open of inode %lu asked for O_NOATIME: dropped", (unsigned long)inode->ino);
	}
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	/* The kernel then opens files alone, and reads come without a handle. */
	if (fs->opts->no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	as_file = fs->opts->virtfs_xattrs && sv_virtfs_shown_as_file(inode->mode);
	/* Only regular files are ever opened for I/O on the host. */
	if (!S_ISREG(inode->mode) && !as_file) {
		fuse_reply_err(req, S_ISDIR(inode->mode) ? EISDIR : EACCES);
		return;
	}
	if (!caller_may(req, inode, SV_ACCESS_READ)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fd = as_file ? open_shown_as_file(fs, inode) : open_backing_file(fs, inode, flags, &st);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	/* Store files never change: keep their pages, and closing needs no flush. */
	fi->keep_cache = 1;
	fi->noflush = 1;
	/*
	 * Large files are read straight from SOURCE.  Small ones still come
	 * through here: their first READ starts reading ahead the files beside
	 * them, which passthrough would never show (and cold small-file reads
	 * measured 0.37x of raw with passthrough for every file, 0.46x so).
	 */
	if (fs->passthrough && !as_file && st.st_size > SV_READAHEAD_MAX_FILE_SIZE &&
	    (backing_id = sv_passthrough_get(fs->passthrough, inode, fd)) > 0) {
		close(fd);
		SV_STAT_ADD(fs, passthrough);
		fi->fh = SV_PASSTHROUGH_FH;
		if (sv_passthrough_reply_open(req, fi, backing_id) == -ENOENT)
			sv_passthrough_put(fs->passthrough, inode);
		return;
	}
	fi->fh = (uint64_t)fd;
	if (fuse_reply_open(req, fi) == -ENOENT)
		close(fd);
}

/*
 * The first file of a directory read from its start starts reading data
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

	if (fi->fh == SV_PASSTHROUGH_FH)
		sv_passthrough_put(fs->passthrough, inode_of(fs, ino));
	else
		close((int)fi->fh);
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
	int dirfd, ret = 0;

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

static void sv_getxattr(fuse_req_t req, fuse_ino_t ino, const char *xname, size_t size)
{
	struct sv_fs *fs = fs_of(req);
	struct sv_inode *inode = inode_of(fs, ino);
	char path[64 + NAME_MAX];
	g_autofree char *value = NULL;
	ssize_t len;
	int ret;

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
	put_parent_fd(fs, inode);
	if (len < 0)
		fuse_reply_err(req, errno);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else
		fuse_reply_buf(req, value, (size_t)len);
}

/* Drops the names the mapped-xattr layout synthesizes from a real list. */
static size_t drop_synthesized_names(char *list, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len;) {
		size_t n = strnlen(list + i, len - i) + 1;

		if (!sv_virtfs_is_synthesized(list + i)) {
			memmove(list + out, list + i, n);
			out += n;
		}
		i += n;
	}
	return out;
}

static void sv_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
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
	put_parent_fd(fs, inode);
	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (fs->opts->virtfs_xattrs) {
		len = (ssize_t)drop_synthesized_names(list, (size_t)len);
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

/* The mount is read-only, so the kernel answers most writes itself; these are the backstop. */
static void reply_erofs(fuse_req_t req)
{
	fuse_reply_err(req, EROFS);
}

static void sv_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	reply_erofs(req);
}

static void sv_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	reply_erofs(req);
}

static void sv_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	reply_erofs(req);
}

static void sv_remove(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_erofs(req);
}

static void sv_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	reply_erofs(req);
}

static void sv_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	reply_erofs(req);
}

static void sv_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	reply_erofs(req);
}

static void sv_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	reply_erofs(req);
}

static void sv_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
			 off_t off, struct fuse_file_info *fi)
{
	reply_erofs(req);
}

static void sv_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	reply_erofs(req);
}

static void sv_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	reply_erofs(req);
}

static void sv_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			 off_t length, struct fuse_file_info *fi)
{
	reply_erofs(req);
}

static void sv_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			       off_t off_out, struct fuse_file_info *fi_out,
			       size_t len, int flags)
{
	reply_erofs(req);
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
