/* Running one view: mount, detach, serve requests, unmount. */
#ifndef STOREVIEW_DAEMON_H
#define STOREVIEW_DAEMON_H

#include "options.h"

/* Exit statuses of the storeview command. */
enum {
	SV_EXIT_OK = 0,
	SV_EXIT_USAGE = 1,	/* bad command line or input; nothing mounted */
	SV_EXIT_MOUNT = 2,	/* mounting failed */
	SV_EXIT_RUNTIME = 3,	/* the view failed while it was mounted */
};

/* Mounts and serves the view described by opts; returns an exit status. */
int sv_daemon_run(const struct sv_options *opts, struct fuse_args *fuse_args);

#endif
