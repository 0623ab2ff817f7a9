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

/*
 * Who runs the daemon.  A view started by hand, by mount(8) or by systemd
 * logs its counters when it stops; storeview exec's daemon writes on its
 * command's terminal, so it does that only under -d or when it failed.
 */
enum sv_daemon_caller {
	SV_DAEMON_STANDALONE,
	SV_DAEMON_EXEC,
};

/* Mounts and serves the view described by opts; returns an exit status. */
int sv_daemon_run(const struct sv_options *opts, struct fuse_args *fuse_args,
		  enum sv_daemon_caller caller);

#endif
