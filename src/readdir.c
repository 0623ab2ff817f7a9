/*
 * Directory listings: opendir, readdir and readdirplus, answered from
 * SOURCE's directory or from a listing read ahead (prefetch.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "closure_view.h"
#include "fs.h"
#include "ops.h"
#include "policy.h"
#include "virtfs.h"

/*
 * Directories are listed without a handle (see do_readdir()), and the
 * kernel keeps every listing: the watcher drops the root's when it changes.
 * Given ENOSYS once, a kernel that can do without stops sending opendirs.
 */
void sv_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sv_fs *fs = fs_of(req);
	int refused = sv_inode_refused(inode_of(fs, ino));

	if (refused < 0) {
		fuse_reply_err(req, -refused);
		return;
	}
	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/* A readable fd of dir_inode, or a negative errno. */
int open_dir_fd(struct sv_fs *fs, struct sv_inode *dir_inode)
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
	GArray *subdirs;		/* SOURCE's subdirectories seen, for the read-ahead */
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
	if (!sv_policy_is_dot_or_dotdot(entry->name) && !sv_closure_view_shows(fs, dir_inode, entry->name)) {
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
 * Opens where the entries after offset come from: a listing read ahead,
 * else SOURCE's directory sought to offset, whose subdirectories are then
 * gathered for the read-ahead.  0 or a negative errno.
 */
static int open_entries(struct sv_fs *fs, struct sv_inode *dir_inode, off_t offset,
			struct entry_source *from)
{
	int err;

	if (fs->prefetch && dir_inode->parent)
		from->listing = listing_read_ahead(fs, dir_inode, offset, &from->next);
	if (from->listing) {
		SV_STAT_ADD(fs, read_ahead_used);
		return 0;
	}
	err = open_dir_stream(fs, dir_inode, &from->dir);
	if (err < 0)
		return err;
	if (fs->prefetch)
		from->subdirs = sv_subdirs_new();
	if (offset != 0)
		seekdir(from->dir, offset);
	return 0;
}

/*
 * Adds entries to buf until it is full or the source ends.  Returns the
 * bytes used, and sets *next_offset to the offset after the last entry added.
 */
static size_t add_entries(fuse_req_t req, struct sv_fs *fs, struct sv_inode *dir_inode,
			  struct entry_source *from, char *buf, size_t size, bool plus,
			  off_t *next_offset)
{
	int fd = from->dir ? dirfd(from->dir) : -1;
	struct entry entry;
	size_t used = 0;
	int err;

	while (next_entry(from, &entry)) {
		size_t entsize = add_entry(req, fs, dir_inode, fd, &entry, buf + used,
					   size - used, plus, &err);

		/* Hidden entries, and ones that vanished since readdir, are not listed. */
		if (err != 0)
			continue;
		if (entsize > size - used) {
			from->full = true;
			break;
		}
		if (from->subdirs && entry.type == DT_DIR && !sv_policy_is_dot_or_dotdot(entry.name))
			sv_subdirs_add(from->subdirs, entry.name, entry.ino);
		used += entsize;
		*next_offset = entry.next_offset;
	}
	return used;
}

/*
 * Ends the request's use of its source: a listing read ahead counts as used
 * once read to its end; SOURCE's stream goes to the read-ahead with the
 * subdirectories seen, or is closed.
 */
static void close_entries(struct sv_fs *fs, struct sv_inode *dir_inode,
			  struct entry_source *from, off_t next_offset)
{
	if (from->listing) {
		if (from->next == from->listing->count && !from->full)
			sv_prefetch_used(fs->prefetch, from->listing);
		sv_listing_unref(from->listing);
	} else if (from->subdirs) {
		/* The top level changes: no listing of it is kept. */
		sv_prefetch_missed(fs->prefetch, dir_inode->dev, dir_inode->ino, from->dir,
				   dir_inode->parent && !source_at_end(from), next_offset,
				   from->subdirs);
	} else {
		closedir(from->dir);
	}
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
	off_t next_offset = offset;
	size_t used;
	int err;

	/* Listings kept or read ahead would answer without asking SOURCE. */
	if ((err = sv_inode_refused(dir_inode)) < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	if (below_top_level && offset != 0 &&
	    offset == __atomic_load_n(&dir_inode->listing_end, __ATOMIC_RELAXED)) {
		SV_STAT_ADD(fs, listing_ends);
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	/* Never NULL, which entries are added at even when none fits (size 0). */
	buf = g_malloc(MAX(size, 1));
	err = open_entries(fs, dir_inode, offset, &from);
	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	/* A path collected and made again may come back under the same number. */
	if (offset == 0 && below_top_level)
		__atomic_store_n(&dir_inode->listing_end, 0, __ATOMIC_RELAXED);
	used = add_entries(req, fs, dir_inode, &from, buf, size, plus, &next_offset);
	if (source_at_end(&from) && below_top_level)
		__atomic_store_n(&dir_inode->listing_end, next_offset, __ATOMIC_RELAXED);
	/* Before the reply: once the kernel has it, it may forget dir_inode. */
	close_entries(fs, dir_inode, &from, next_offset);
	if (from.err > 0 && used == 0)
		fuse_reply_err(req, from.err);
	else
		fuse_reply_buf(req, buf, used);
}

void sv_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, false);
}

void sv_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, true);
}
