/* The state of one mounted view, shared by all FUSE operations. */
#ifndef STOREVIEW_FS_H
#define STOREVIEW_FS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <glib.h>

#include "closure.h"
#include "inodes.h"
#include "options.h"
#include "open_files.h"
#include "passthrough.h"
#include "prefetch.h"
#include "readahead.h"

struct sv_init;

struct sv_stats {
	unsigned long lookups;
	unsigned long opens;
	unsigned long noatime_dropped;
	unsigned long reads;
	unsigned long denied;
	unsigned long hidden;
	unsigned long listing_ends;	/* ends of listings told without a reopen */
	unsigned long read_ahead_used;	/* listings answered from read-ahead */
	unsigned long passthrough;	/* opens answered with a backing file */
	unsigned long forgets;		/* inodes the kernel forgot */
};

struct sv_fs {
	const struct sv_options *opts;
	struct sv_inode_table *inodes;
	int root_fd;			/* owned by inodes */
	struct fuse_session *se;	/* for invalidation notices */
	bool no_opendir;		/* the kernel lists directories without opening them */
	struct sv_stats stats;		/* updated with atomic adds */
	GRWLock closure_lock;
	struct sv_closure *closure;	/* NULL: every entry is visible */
	struct sv_prefetch *prefetch;	/* NULL: no reading ahead */
	struct sv_readahead *readahead;	/* NULL: no reading of data ahead */
	struct sv_passthrough *passthrough;	/* NULL: reads through the daemon */
	struct sv_init *init;		/* INIT's additions (init.h); NULL: none */
	struct sv_open_files *open_files;
};

extern const struct fuse_lowlevel_ops sv_ops;

#define SV_STAT_ADD(fs, field) __atomic_add_fetch(&(fs)->stats.field, 1, __ATOMIC_RELAXED)

#endif
