/* The state of one mounted view, shared by all FUSE operations. */
#ifndef STOREVIEW_FS_H
#define STOREVIEW_FS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "inodes.h"
#include "options.h"

struct sv_stats {
	unsigned long lookups;
	unsigned long opens;
	unsigned long noatime_dropped;
	unsigned long reads;
	unsigned long denied;
};

struct sv_fs {
	const struct sv_options *opts;
	struct sv_inode_table *inodes;
	int root_fd;			/* owned by inodes */
	struct sv_stats stats;		/* updated with atomic adds */
};

extern const struct fuse_lowlevel_ops sv_ops;

/* Logs the counters in one line, e.g. at exit or on SIGUSR1. */
void sv_fs_log_stats(struct sv_fs *fs);

#endif
