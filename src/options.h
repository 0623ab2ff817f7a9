/* Command-line and mount option parsing for the storeview daemon. */
#ifndef STOREVIEW_OPTIONS_H
#define STOREVIEW_OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>
#include <fuse_opt.h>

#define SV_DEFAULT_TIMEOUT 3600.0
#define SV_DEFAULT_DIR_FD_CACHE 512
#define SV_DEFAULT_MAX_THREADS 8

struct sv_options {
	char *source;
	char *mountpoint;
	/* As given on the command line, before validation. */
	char *uid_spec;		/* a name or a number */
	char *gid_spec;
	char *closure_path;	/* -o closure=FILE, or NULL: every entry visible */
	char *store_dir;	/* the store path closure lines refer to */
	char *forced_opts;	/* the -o options every view gets */

	uid_t uid;		/* resolved owner reported for every entry */
	gid_t gid;
	double timeout;		/* seconds the kernel may cache entries and attributes */
	unsigned int dir_fd_cache;	/* directory fds kept open at most */
	unsigned int max_threads;
	bool recover_stale;	/* lazily unmount a dead view on MOUNTPOINT first */
	bool closure_strict;	/* closure entries missing from SOURCE are fatal */
	bool virtfs_xattrs;	/* QEMU mapped-xattr layout, see virtfs.h */
	bool no_open;		/* the kernel opens without asking; modes narrowed */
	bool no_prefetch;	/* no reading ahead, see prefetch.h and readahead.h */
	bool no_passthrough;	/* every read through the daemon, see passthrough.h */
	bool foreground;
	bool debug;
	bool singlethread;
	bool show_help;
	bool show_version;
	int ready_fd;		/* internal (exec): fd to write to once mounted, or -1 */
};

/*
 * Parses argv into opts.  On success returns 0 and leaves in fuse_args only
 * what libfuse itself must see (its own -o options, plus the ones storeview
 * forces: ro, nosuid, nodev, default_permissions, fsname, subtype).  On bad
 * input returns -1 and sets *error to a one-line message.
 */
int sv_options_parse(int argc, char **argv, struct sv_options *opts,
		     struct fuse_args *fuse_args, char **error);

void sv_options_clear(struct sv_options *opts);

/* True for options that belong to mount(8), fstab or systemd, not to us. */
bool sv_option_is_ignored(const char *opt);

void sv_options_print_usage(const char *progname);

#endif
