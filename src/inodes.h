/*
 * The inode table: every entry the kernel knows, keyed by (st_dev, st_ino),
 * and a bounded cache of directory fds through which entries are reached.
 * A lookup that finds the number under another name (a hard link, or a
 * number reused after a path was removed) makes a new inode for that name.
 *
 * No inode holds an fd of its own.  Each remembers its parent and its name,
 * and is reached as (parent directory fd, name) with *at() calls that never
 * follow symlinks, so the view cannot leave SOURCE and a store of millions
 * of files needs no more fds than the cache allows.
 *
 * The kernel knows an inode by its id, a number from a counter, never
 * reused and telling nothing of the daemon's memory: file handles
 * (name_to_handle_at(2)) show it to any local user.
 *
 * Each inode knows its top-level ancestor, the store path it belongs to.
 * When that leaves the view (a closure reload) or SOURCE (removed, or moved
 * elsewhere while a client holds it), every request that reaches SOURCE
 * through any inode below it is refused, at the cost of one load.
 */
#ifndef STOREVIEW_INODES_H
#define STOREVIEW_INODES_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <glib.h>

/*
 * The lock regimes of an inode.  Each field of struct sv_inode is under
 * exactly one of them; this is the one place that says which.
 *
 * - Fixed once the inode is in the table: id, dev, ino, the type bits of
 *   mode, parent, name and top.  Written under the table's lock before
 *   sv_inode_table_lookup() returns the inode, read without any lock.
 * - The table's lock (a mutex in inodes.c): refs, the fd cache (fd,
 *   fd_users) and the LRU links, and the table's own sets, the id counter
 *   and the filter's answer for a new top-level inode.  Only bookkeeping
 *   runs under it: fds are opened outside it and cached after (a thread
 *   that lost the race closes its own), and SOURCE is asked before it is
 *   taken (sv_inode_table_recheck()).
 * - The table's ids lock (a rwlock): the map from node id to inode that
 *   every request reads (sv_inode_table_find()); written only with the
 *   table's lock held.
 * - Atomics, no lock (__atomic builtins): the permission bits of mode, uid
 *   and gid (sv_inode_refresh()); acl and acl_ctime (sv_acl_refresh());
 *   refused, on top-level inodes (sv_inode_refused(), release and acquire
 *   against the table's refilter and recheck); data_read_ahead,
 *   cold_file_opened and listing_end, hints whose stale value costs only
 *   a repeated check or read.
 *
 * Lock order: the table's lock, then the ids lock or the closure's lock
 * (the filter, closure_view.c); nothing is taken the other way round.
 *
 * Lifetime: an inode lives while refs is above 0: one per kernel lookup
 * not yet forgotten, one per child inode, one per use of its fd (a request
 * may use the fd after its reply, when the kernel may have forgotten the
 * inode).  A request uses the inode of its node id without a reference of
 * its own: the kernel forgets no inode it has a request on.
 *
 * Not on the inode: what all open files of one file of SOURCE share under
 * any of its names (hard links are an inode each here), the fd they read
 * and the backing file they are read by, lives in open_files.c under that
 * table's own lock, which is never held with the inode table's.  An open
 * file's handle fi->fh is only ever an fd of the daemon's, the one the
 * open file reads: for a regular file that shared fd (see open_files.h);
 * for an entry shown as a file (virtfs_xattrs) a memfd of its own, closed
 * at release.  Under no_open the kernel opens alone and fi->fh is unused
 * (the kernel's 0).
 */
struct sv_inode {
	uint64_t id;			/* the kernel's node id; FUSE_ROOT_ID for the root */
	dev_t dev;
	ino_t ino;
	/*
	 * Real type, permissions and ownership, for permission checks: the
	 * permissions and ownership as the daemon last found them in SOURCE.
	 */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	/*
	 * Whether the entry has an access ACL, as sv_acl_refresh() last found
	 * it (see acl.h), and the ctime it was found at.
	 */
	uint32_t acl;
	int64_t acl_ctime;
	/* For a directory: its files' data was sent to be read ahead. */
	bool data_read_ahead;
	/*
	 * For a directory: a file of it read by passthrough was not all in
	 * memory when opened (see read_by_passthrough() in ops.c).
	 */
	bool cold_file_opened;
	struct sv_inode *parent;	/* NULL for the root; holds a reference */
	char *name;			/* name in parent; NULL for the root */
	/* The top-level entry this one is below, itself at the top level; NULL for the root. */
	struct sv_inode *top;
	/* For a top-level entry: SV_INODE_* bits, why the view refuses it. */
	uint32_t refused;
	uint64_t refs;			/* kernel lookups, child inodes, uses of fd */
	/* fd cache: an O_PATH fd of a directory, a read fd of a file, or -1. */
	int fd;
	/*
	 * While fd is cached: until when (CLOCK_MONOTONIC_COARSE, in ms) it is
	 * trusted to be where the names from the root lead (atomic).
	 */
	int64_t path_trusted;
	unsigned int fd_users;
	/*
	 * For a directory below the top level, which never changes: the offset
	 * the kernel asks at once it has every entry, or 0 until known.
	 */
	off_t listing_end;
	struct sv_inode *lru_prev, *lru_next;
};

#define SV_INODE_HIDDEN	1u	/* the filter no longer shows it */
#define SV_INODE_GONE	2u	/* its name in SOURCE leads elsewhere; an unknown id */

struct sv_inode_table;

/* Takes ownership of root_fd, an O_PATH directory fd of SOURCE. */
struct sv_inode_table *sv_inode_table_new(int root_fd, unsigned int max_dir_fds);
void sv_inode_table_free(struct sv_inode_table *table);

/* A hash of a file of SOURCE's (st_dev, st_ino), for the tables keyed by it. */
guint sv_dev_ino_hash(dev_t dev, ino_t ino);

struct sv_inode *sv_inode_table_root(struct sv_inode_table *table);

/*
 * The inode the kernel knows as id.  An id the table does not hold (the
 * kernel never sends one) gives an inode of id 0, which every access to
 * SOURCE refuses with -ESTALE and forgetting ignores.
 */
struct sv_inode *sv_inode_table_find(struct sv_inode_table *table, uint64_t id);

/*
 * 0 if requests may reach SOURCE through inode, else the negative errno
 * they get: -ENOENT below a top-level entry the view no longer shows,
 * -ESTALE for an inode that is gone.  Every such request asks, so it is
 * one load.
 */
static inline int sv_inode_refused(const struct sv_inode *inode)
{
	uint32_t why = inode->top ? __atomic_load_n(&inode->top->refused, __ATOMIC_ACQUIRE) : 0;

	if (!why)
		return 0;
	return (why & SV_INODE_GONE) ? -ESTALE : -ENOENT;
}

/*
 * Which top-level names the view shows (the closure filter); without a
 * filter, all.  shown(data, name) is asked when a top-level inode is made
 * and by sv_inode_table_refilter(), with the table's lock held.  Set it
 * before the first lookup.
 */
void sv_inode_table_set_filter(struct sv_inode_table *table,
			       bool (*shown)(void *data, const char *name), void *data);

/* An entry the kernel may hold: its parent's node id, its name and its node id. */
struct sv_inode_entry {
	uint64_t parent_id;
	uint64_t id;
	char *name;
};

/*
 * Asks the filter again about every top-level inode, once what it shows
 * changed (a closure reload), and refuses or allows each accordingly.
 * Returns the entries the kernel may hold at and below the top-level ones
 * that left the view, for it to forget (an array of sv_inode_entry, freed
 * with g_array_unref()).  A walk of the whole table: for rare events only.
 */
GArray *sv_inode_table_refilter(struct sv_inode_table *table);

/*
 * Asks SOURCE again where these top-level names lead, once a watch saw
 * them change: inodes of those names they no longer lead to are refused as
 * gone (-ESTALE), those they lead to again are allowed.  Returns what
 * sv_inode_table_refilter() returns, for the inodes newly gone.
 */
GArray *sv_inode_table_recheck(struct sv_inode_table *table, GPtrArray *names);

/*
 * Finds the inode for st found as name in parent, or adds it, and counts
 * one kernel lookup on it.
 */
struct sv_inode *sv_inode_table_lookup(struct sv_inode_table *table,
				       struct sv_inode *parent, const char *name,
				       const struct stat *st);

/*
 * Takes inode's permissions and ownership from st, a fresh stat of it: a
 * mode tightened in SOURCE holds for the daemon's checks from then on.
 */
void sv_inode_refresh(struct sv_inode *inode, const struct stat *st);

/* Drops nlookup kernel lookups; the inode is freed when none remain. */
void sv_inode_table_forget(struct sv_inode_table *table, struct sv_inode *inode,
			   uint64_t nlookup);

/*
 * An O_PATH fd of a directory inode, held until sv_inode_put_dirfd().
 * Returns the fd or a negative errno (-ESTALE if the name in SOURCE no
 * longer leads to this directory, or see sv_inode_refused()).
 */
int sv_inode_get_dirfd(struct sv_inode_table *table, struct sv_inode *dir);

/*
 * A read-only fd of a regular file inode, cached like directory fds and
 * within the same bound, held until sv_inode_put_dirfd() (which releases
 * either kind).  Serves reads when the kernel opens files without asking
 * (-o no_open).
 */
int sv_inode_get_readfd(struct sv_inode_table *table, struct sv_inode *file);

void sv_inode_put_dirfd(struct sv_inode_table *table, struct sv_inode *dir);

/*
 * The names of parent's children that the kernel may hold entries for.  A
 * walk of the whole table: for rare events only.
 */
GPtrArray *sv_inode_table_child_names(struct sv_inode_table *table,
				      const struct sv_inode *parent);

/* Counts for statistics. */
void sv_inode_table_counts(struct sv_inode_table *table, unsigned int *inodes,
			   unsigned int *dir_fds);

#endif
