/*
 * Command-line and mount option parsing for the storeview daemon.
 *
 * Every storeview option works both as "-o name[=value]" (so fstab and
 * mount(8) can pass it) and as "--name[=value]".  Options of mount(8),
 * fstab and systemd are accepted and dropped; libfuse's own mount options
 * are passed through; anything else is refused by name.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "ids.h"
#include "options.h"

enum {
	KEY_HELP,
	KEY_VERSION,
	KEY_FOREGROUND,
	KEY_DEBUG,
	KEY_SINGLETHREAD,
	KEY_RECOVER_STALE,
	KEY_CLOSURE_STRICT,
	KEY_VIRTFS_XATTRS,
	KEY_NO_OPEN,
	KEY_NO_PREFETCH,
	KEY_NO_PASSTHROUGH,
};

struct parse_state {
	struct sv_options *opts;
	char *error;
};

static const struct fuse_opt sv_opt_specs[] = {
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("--foreground", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("--debug", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-s", KEY_SINGLETHREAD),
	FUSE_OPT_KEY("--single-thread", KEY_SINGLETHREAD),
	FUSE_OPT_KEY("recover_stale", KEY_RECOVER_STALE),
	FUSE_OPT_KEY("--recover-stale", KEY_RECOVER_STALE),
	FUSE_OPT_KEY("closure_strict", KEY_CLOSURE_STRICT),
	FUSE_OPT_KEY("--closure-strict", KEY_CLOSURE_STRICT),
	FUSE_OPT_KEY("virtfs_xattrs", KEY_VIRTFS_XATTRS),
	FUSE_OPT_KEY("--virtfs-xattrs", KEY_VIRTFS_XATTRS),
	FUSE_OPT_KEY("no_open", KEY_NO_OPEN),
	FUSE_OPT_KEY("--no-open", KEY_NO_OPEN),
	FUSE_OPT_KEY("no_prefetch", KEY_NO_PREFETCH),
	FUSE_OPT_KEY("no_passthrough", KEY_NO_PASSTHROUGH),
	FUSE_OPT_KEY("--no-passthrough", KEY_NO_PASSTHROUGH),
	FUSE_OPT_END
};

/* mount(8), fstab and systemd options that never concern the filesystem. */
static const char *const ignored_exact[] = {
	"auto", "noauto", "nofail", "_netdev", "user", "nouser", "users",
	"owner", "group", "defaults",
	/* Always in force, so saying them changes nothing. */
	"ro", "default_permissions",
	/* mount(8) passes these by default; the view stays read-only,
	 * nosuid and nodev whatever they say. */
	"rw", "suid", "dev",
	/* A read-only view never updates times nor writes anything. */
	"atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime",
	"strictatime", "nostrictatime", "lazytime", "nolazytime",
	"sync", "async", "dirsync",
	NULL
};
static const char *const ignored_prefixes[] = {
	"x-", "comment=", "helper=", NULL
};

/* libfuse mount options that make sense for a read-only view. */
static const char *const passed_exact[] = {
	"allow_other", "allow_root", "auto_unmount", "exec", "noexec", "nosuid", "nodev",
	NULL
};
static const char *const passed_prefixes[] = {
	"fsname=", "subtype=", "max_read=",
	"context=", "fscontext=", "defcontext=", "rootcontext=", NULL
};

/* storeview's own valued options: "-o name=value" or "--name=value". */
struct valued_option {
	const char *name;
	size_t field;
};
static const struct valued_option valued_options[] = {
	{ "uid", offsetof(struct sv_options, uid_spec) },
	{ "gid", offsetof(struct sv_options, gid_spec) },
	{ "timeout", offsetof(struct sv_options, timeout_spec) },
	{ "dir_fd_cache", offsetof(struct sv_options, dir_fd_cache_spec) },
	{ "max_threads", offsetof(struct sv_options, max_threads_spec) },
	{ "ready_fd", offsetof(struct sv_options, ready_fd_spec) },
	{ "closure", offsetof(struct sv_options, closure_path) },
	{ "store_dir", offsetof(struct sv_options, store_dir) },
	{ NULL, 0 }
};

static gboolean matches(const char *opt, const char *const *exact,
			const char *const *prefixes)
{
	for (; *exact; exact++)
		if (strcmp(opt, *exact) == 0)
			return TRUE;
	for (; *prefixes; prefixes++)
		if (g_str_has_prefix(opt, *prefixes))
			return TRUE;
	return FALSE;
}

bool sv_option_is_ignored(const char *opt)
{
	return matches(opt, ignored_exact, ignored_prefixes);
}

static int fail(struct parse_state *st, char *message)
{
	if (!st->error)
		st->error = message;
	else
		g_free(message);
	return -1;
}

/* Stores "name=value" (or "--name=value", dashes as underscores) if name is ours. */
static gboolean take_valued(struct sv_options *opts, const char *arg)
{
	const char *eq = strchr(arg, '=');
	g_autofree char *name = NULL;

	if (!eq)
		return FALSE;
	if (g_str_has_prefix(arg, "--")) {
		name = g_strndup(arg + 2, eq - arg - 2);
		g_strdelimit(name, "-", '_');
	} else {
		name = g_strndup(arg, eq - arg);
	}
	for (const struct valued_option *v = valued_options; v->name; v++) {
		if (strcmp(name, v->name) == 0) {
			char **slot = G_STRUCT_MEMBER_P(opts, v->field);

			g_free(*slot);
			*slot = g_strdup(eq + 1);
			return TRUE;
		}
	}
	return FALSE;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct parse_state *st = data;
	struct sv_options *opts = st->opts;

	switch (key) {
	case KEY_HELP:
		opts->show_help = true;
		return 0;
	case KEY_VERSION:
		opts->show_version = true;
		return 0;
	case KEY_FOREGROUND:
		opts->foreground = true;
		return 0;
	case KEY_DEBUG:
		opts->debug = true;
		opts->foreground = true;
		return 0;
	case KEY_SINGLETHREAD:
		opts->singlethread = true;
		return 0;
	case KEY_RECOVER_STALE:
		opts->recover_stale = true;
		return 0;
	case KEY_CLOSURE_STRICT:
		opts->closure_strict = true;
		return 0;
	case KEY_VIRTFS_XATTRS:
		opts->virtfs_xattrs = true;
		return 0;
	case KEY_NO_PREFETCH:
		opts->no_prefetch = true;
		return 0;
	case KEY_NO_OPEN:
		opts->no_open = true;
		return 0;
	case KEY_NO_PASSTHROUGH:
		opts->no_passthrough = true;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (!opts->source)
			opts->source = g_strdup(arg);
		else if (!opts->mountpoint)
			opts->mountpoint = g_strdup(arg);
		else
			return fail(st, g_strdup_printf("unexpected argument '%s'", arg));
		return 0;
	case FUSE_OPT_KEY_OPT:
		if (take_valued(opts, arg))
			return 0;
		if (sv_option_is_ignored(arg))
			return 0;
		if (matches(arg, passed_exact, passed_prefixes))
			return 1;
		return fail(st, g_strdup_printf("unknown option '%s'", arg));
	default:
		return fail(st, g_strdup_printf("unexpected argument '%s'", arg));
	}
}

static int parse_unsigned(struct parse_state *st, const char *name, const char *spec,
			  guint64 min, guint64 max, guint64 *out)
{
	g_autoptr(GError) err = NULL;

	if (!g_ascii_string_to_unsigned(spec, 10, min, max, out, &err))
		return fail(st, g_strdup_printf("bad value '%s' for %s=: expected a whole number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
						spec, name, min, max));
	return 0;
}

static void absolutize(char **path)
{
	char *absolute = g_canonicalize_filename(*path, NULL);

	g_free(*path);
	*path = absolute;
}

/* Turns the textual option values into numbers and ids. */
static int resolve(struct parse_state *st)
{
	struct sv_options *opts = st->opts;
	gid_t primary_gid = getgid();
	guint64 value;

	if (!opts->source)
		return fail(st, g_strdup("missing SOURCE and MOUNTPOINT (see --help)"));
	if (!opts->mountpoint)
		return fail(st, g_strdup("missing MOUNTPOINT (see --help)"));
	/* A daemon runs in "/": relative paths would unmount or reload the wrong thing. */
	absolutize(&opts->source);
	absolutize(&opts->mountpoint);

	opts->uid = getuid();
	if (opts->uid_spec &&
	    sv_resolve_uid(opts->uid_spec, &opts->uid, &primary_gid, &st->error) < 0)
		return -1;
	/* A named user without gid= gets that user's primary group. */
	opts->gid = (opts->uid_spec && primary_gid != (gid_t)-1) ? primary_gid : getgid();
	if (opts->gid_spec && sv_resolve_gid(opts->gid_spec, &opts->gid, &st->error) < 0)
		return -1;

	opts->timeout = SV_DEFAULT_TIMEOUT;
	if (opts->timeout_spec) {
		if (parse_unsigned(st, "timeout", opts->timeout_spec, 0, 31536000, &value) < 0)
			return -1;
		opts->timeout = (double)value;
	}
	opts->dir_fd_cache = SV_DEFAULT_DIR_FD_CACHE;
	if (opts->dir_fd_cache_spec) {
		if (parse_unsigned(st, "dir_fd_cache", opts->dir_fd_cache_spec, 16, 16384, &value) < 0)
			return -1;
		opts->dir_fd_cache = (unsigned int)value;
	}
	opts->max_threads = SV_DEFAULT_MAX_THREADS;
	if (opts->max_threads_spec) {
		if (parse_unsigned(st, "max_threads", opts->max_threads_spec, 1, 256, &value) < 0)
			return -1;
		opts->max_threads = (unsigned int)value;
	}
	if (opts->closure_path && !*opts->closure_path)
		return fail(st, g_strdup("empty file name in closure="));
	if (opts->store_dir && opts->store_dir[0] != '/')
		return fail(st, g_strdup_printf("store_dir='%s' is not an absolute path", opts->store_dir));
	if (!opts->store_dir)
		opts->store_dir = g_strdup(opts->source);
	if (opts->closure_path)
		absolutize(&opts->closure_path);
	opts->ready_fd = -1;
	if (opts->ready_fd_spec) {
		if (parse_unsigned(st, "ready_fd", opts->ready_fd_spec, 0, G_MAXINT, &value) < 0)
			return -1;
		opts->ready_fd = (int)value;
	}
	return 0;
}

/* What every view is, whatever the command line said. */
static int add_forced_options(struct sv_options *opts, struct fuse_args *args)
{
	g_autofree char *fsname = g_strdup_printf("fsname=%s", opts->source);

	if (fuse_opt_add_opt_escaped(&opts->forced_opts, fsname) < 0 ||
	    fuse_opt_add_opt(&opts->forced_opts,
			     "subtype=storeview,ro,nosuid,nodev,default_permissions") < 0 ||
	    fuse_opt_add_arg(args, "-o") < 0 ||
	    fuse_opt_add_arg(args, opts->forced_opts) < 0)
		return -1;
	if (opts->debug && fuse_opt_add_arg(args, "-d") < 0)
		return -1;
	return 0;
}

int sv_options_parse(int argc, char **argv, struct sv_options *opts,
		     struct fuse_args *fuse_args, char **error)
{
	struct parse_state st = { .opts = opts };
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	int ret = -1;

	memset(opts, 0, sizeof(*opts));
	*fuse_args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	if (fuse_opt_add_arg(&args, argc > 0 ? argv[0] : "storeview") < 0)
		goto nomem;
	for (int i = 1; i < argc; i++)
		if (fuse_opt_add_arg(&args, argv[i]) < 0)
			goto nomem;

	if (fuse_opt_parse(&args, &st, sv_opt_specs, opt_proc) < 0) {
		if (!st.error)
			st.error = g_strdup("invalid command line");
		goto out;
	}
	if (opts->show_help || opts->show_version) {
		ret = 0;
		goto out;
	}
	if (resolve(&st) < 0)
		goto out;

	if (add_forced_options(opts, &args) < 0)
		goto nomem;

	*fuse_args = args;
	args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	ret = 0;
	goto out;
nomem:
	fail(&st, g_strdup("out of memory"));
out:
	fuse_opt_free_args(&args);
	if (ret < 0) {
		*error = st.error;
		sv_options_clear(opts);
	} else {
		g_free(st.error);
	}
	return ret;
}

void sv_options_clear(struct sv_options *opts)
{
	g_free(opts->source);
	g_free(opts->mountpoint);
	g_free(opts->uid_spec);
	g_free(opts->gid_spec);
	g_free(opts->timeout_spec);
	g_free(opts->dir_fd_cache_spec);
	g_free(opts->max_threads_spec);
	g_free(opts->ready_fd_spec);
	g_free(opts->closure_path);
	g_free(opts->store_dir);
	free(opts->forced_opts);
	memset(opts, 0, sizeof(*opts));
}

void sv_options_print_usage(const char *progname)
{
	printf("usage: %s [-f] [-d] [-o OPTION[,OPTION...]] SOURCE MOUNTPOINT\n"
	       "       %s exec [-o OPTION[,OPTION...]] SOURCE -- COMMAND [ARG...]\n"
	       "\n"
	       "Mounts a read-only view of SOURCE (a store such as /nix/store) at MOUNTPOINT\n"
	       "that reports one user as the owner of every entry and drops O_NOATIME from\n"
	       "opens, so that an unprivileged QEMU can serve it over 9p or virtio-fs.\n"
	       "\n"
	       "options (each also as --NAME[=VALUE]):\n"
	       "    -f, --foreground       stay in the foreground\n"
	       "    -d, --debug            log every request (implies -f)\n"
	       "    -s, --single-thread    serve requests on one thread\n"
	       "    -h, --help             print this help\n"
	       "    -V, --version          print the version\n"
	       "    -o uid=USER            owner reported for every entry (name or number;\n"
	       "                           default: the user running storeview)\n"
	       "    -o gid=GROUP           group reported for every entry (default: USER's\n"
	       "                           primary group)\n"
	       "    -o allow_other         let other users than the mounting one use the view\n"
	       "    -o timeout=SECONDS     how long the kernel caches entries and attributes\n"
	       "                           (default %.0f)\n"
	       "    -o dir_fd_cache=N      directory (and with no_open, file) fds kept open\n"
	       "                           at most (default %u)\n"
	       "    -o max_threads=N       request threads at most (default %u)\n"
	       "    -o recover_stale       if MOUNTPOINT holds a dead view, unmount it first\n"
	       "    -o closure=FILE        show only the top-level entries FILE lists\n"
	       "                           (nix-store -qR output); SIGHUP re-reads it\n"
	       "    -o store_dir=DIR       the store path FILE's lines start with\n"
	       "                           (default: SOURCE)\n"
	       "    -o closure_strict      entries of FILE missing from SOURCE are fatal\n"
	       "    -o virtfs_xattrs       QEMU security_model=mapped-xattr layout: real\n"
	       "                           owners and modes in user.virtfs.* xattrs\n"
	       "    -o no_prefetch         do not read ahead: neither the subdirectories\n"
	       "                           of a listed directory nor the files beside a\n"
	       "                           read one\n"
	       "    -o no_open             faster: the kernel opens files without asking\n"
	       "                           the daemon; O_NOATIME drops go uncounted\n"
	       "    -o no_passthrough      read every file through the daemon, never\n"
	       "                           straight from SOURCE's file\n"
	       "    -o OPTION              libfuse mount options: allow_root, auto_unmount,\n"
	       "                           noexec, fsname=, subtype=, max_read=, ...\n"
	       "\n"
	       "Always in force: ro, nosuid, nodev, default_permissions.  Options of\n"
	       "mount(8), fstab and systemd (rw, suid, dev, nofail, noauto, _netdev, user,\n"
	       "users, defaults, comment=, x-*) are accepted and ignored.\n"
	       "\n"
	       "See storeview(1) for the exec wrapper, fstab and systemd use.\n",
	       progname, progname, SV_DEFAULT_TIMEOUT, SV_DEFAULT_DIR_FD_CACHE,
	       SV_DEFAULT_MAX_THREADS);
}
