/*
 * Command-line and mount option parsing for the storeview daemon.
 *
 * Every storeview option works both as "-o name[=value]" (so fstab and
 * mount(8) can pass it) and as "--name[=value]"; one table, options[],
 * says which there are and writes --help.  Options of mount(8), fstab and
 * systemd are accepted and dropped; libfuse's own mount options are passed
 * through; anything else is refused by name.
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

enum option_kind {
	FLAG,		/* bool: given or not */
	TEXT,		/* char *: kept as given, checked by resolve() */
	COUNT,		/* unsigned int from min to max */
	FD,		/* int from min to max */
	SECONDS,	/* double: whole seconds from min to max */
	LIBFUSE,	/* passed on to libfuse as -o NAME */
};

/*
 * One of storeview's options: "-o NAME[=VALUE]" (unless command_line_only),
 * "--NAME[=VALUE]" with dashes or underscores alike, and "-LETTER" if it
 * has one.  Numbers are kept as text until resolve() checks them.
 */
struct option {
	const char *name;
	char letter;
	bool command_line_only;
	enum option_kind kind;
	size_t field;			/* in struct sv_options */
	guint64 min, max;		/* numbers */
	gint64 fallback;		/* numbers: the value when not given */
	const char *value_name;		/* --help: -o NAME=VALUE_NAME */
	const char *help;		/* NULL: internal, not in --help */
};

#define FLAG_OPTION(opt_name, member) \
	.name = opt_name, .kind = FLAG, .field = offsetof(struct sv_options, member)
#define TEXT_OPTION(opt_name, member, value) \
	.name = opt_name, .kind = TEXT, .field = offsetof(struct sv_options, member), \
	.value_name = value
#define NUMBER_OPTION(opt_name, number_kind, member, lowest, highest, default_value, value) \
	.name = opt_name, .kind = number_kind, .field = offsetof(struct sv_options, member), \
	.min = lowest, .max = highest, .fallback = default_value, .value_name = value

/* In the order of --help. */
static const struct option options[] = {
	{ FLAG_OPTION("foreground", foreground), .letter = 'f', .command_line_only = true,
	  .help = "stay in the foreground" },
	{ FLAG_OPTION("debug", debug), .letter = 'd',
	  .help = "log every request (implies -f)" },
	{ FLAG_OPTION("single_thread", singlethread), .letter = 's', .command_line_only = true,
	  .help = "serve requests on one thread" },
	{ FLAG_OPTION("help", show_help), .letter = 'h', .command_line_only = true,
	  .help = "print this help" },
	{ FLAG_OPTION("version", show_version), .letter = 'V', .command_line_only = true,
	  .help = "print the version" },
	{ TEXT_OPTION("uid", uid_spec, "USER"),
	  .help = "owner reported for every entry (name or number; default: the user "
		  "running storeview)" },
	{ TEXT_OPTION("gid", gid_spec, "GROUP"),
	  .help = "group reported for every entry (default: USER's primary group)" },
	{ .name = "allow_other", .kind = LIBFUSE,
	  .help = "let other users than the mounting one use the view" },
	{ NUMBER_OPTION("timeout", SECONDS, timeout, 0, 31536000, SV_DEFAULT_TIMEOUT, "SECONDS"),
	  .help = "how long the kernel caches entries and attributes" },
	{ NUMBER_OPTION("dir_fd_cache", COUNT, dir_fd_cache, 16, 16384, SV_DEFAULT_DIR_FD_CACHE, "N"),
	  .help = "directory (and with no_open, file) fds kept open at most" },
	{ NUMBER_OPTION("max_threads", COUNT, max_threads, 1, 256, SV_DEFAULT_MAX_THREADS, "N"),
	  .help = "request threads at most" },
	{ FLAG_OPTION("recover_stale", recover_stale),
	  .help = "if MOUNTPOINT holds a dead view, unmount it first" },
	{ TEXT_OPTION("closure", closure_path, "FILE"),
	  .help = "show only the top-level entries FILE lists (nix-store -qR output); "
		  "SIGHUP re-reads it" },
	{ TEXT_OPTION("store_dir", store_dir, "DIR"),
	  .help = "the store path FILE's lines start with (default: SOURCE)" },
	{ FLAG_OPTION("closure_strict", closure_strict),
	  .help = "entries of FILE missing from SOURCE are fatal" },
	{ FLAG_OPTION("virtfs_xattrs", virtfs_xattrs),
	  .help = "QEMU security_model=mapped-xattr layout: real owners and modes in "
		  "user.virtfs.* xattrs" },
	{ FLAG_OPTION("no_prefetch", no_prefetch),
	  .help = "do not read ahead: neither the subdirectories of a listed directory "
		  "nor the files beside a read one" },
	{ FLAG_OPTION("no_open", no_open),
	  .help = "faster: the kernel opens files without asking the daemon; O_NOATIME "
		  "drops go uncounted" },
	{ FLAG_OPTION("no_passthrough", no_passthrough),
	  .help = "read every file through the daemon, never straight from SOURCE's file" },
	/* storeview exec's: the fd to write to once mounted. */
	{ NUMBER_OPTION("ready_fd", FD, ready_fd, 0, G_MAXINT, -1, NULL) },
};

struct parse_state {
	struct sv_options *opts;
	char *number_text[G_N_ELEMENTS(options)];	/* as given, for resolve() */
	char *error;
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

static const struct option *option_named(const char *name, size_t len)
{
	for (size_t i = 0; i < G_N_ELEMENTS(options); i++)
		if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
			return &options[i];
	return NULL;
}

/* The option arg names: -o NAME[=VALUE], --NAME[=VALUE] or -LETTER. */
static const struct option *find_option(const char *arg, const char **value, bool *long_form)
{
	const char *eq = strchr(arg, '=');
	g_autofree char *name = NULL;
	const struct option *opt;

	*value = eq ? eq + 1 : NULL;
	*long_form = g_str_has_prefix(arg, "--");
	if (*long_form) {
		name = g_strndup(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
		g_strdelimit(name, "-", '_');
		return option_named(name, strlen(name));
	}
	if (arg[0] == '-') {
		for (size_t i = 0; i < G_N_ELEMENTS(options); i++)
			if (options[i].letter && arg[1] == options[i].letter && !arg[2])
				return &options[i];
		return NULL;
	}
	opt = option_named(arg, eq ? (size_t)(eq - arg) : strlen(arg));
	return opt && !opt->command_line_only ? opt : NULL;
}

/* Takes opt, found in arg, as fuse_opt_parse's callback would: 0, 1 to leave it to libfuse, -1. */
static int take_option(struct parse_state *st, const struct option *opt, const char *value,
		       bool long_form, struct fuse_args *outargs)
{
	char **text;

	switch (opt->kind) {
	case FLAG:
		*(bool *)G_STRUCT_MEMBER_P(st->opts, opt->field) = true;
		return 0;
	case LIBFUSE:
		if (!long_form)
			return 1;
		if (fuse_opt_add_arg(outargs, "-o") < 0 || fuse_opt_add_arg(outargs, opt->name) < 0)
			return fail(st, g_strdup("out of memory"));
		return 0;
	case TEXT:
		text = G_STRUCT_MEMBER_P(st->opts, opt->field);
		break;
	default:
		text = &st->number_text[opt - options];
		break;
	}
	g_free(*text);
	*text = g_strdup(value);
	return 0;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct parse_state *st = data;
	struct sv_options *opts = st->opts;
	const struct option *opt;
	const char *value;
	bool long_form;

	if (key == FUSE_OPT_KEY_NONOPT) {
		if (!opts->source)
			opts->source = g_strdup(arg);
		else if (!opts->mountpoint)
			opts->mountpoint = g_strdup(arg);
		else
			return fail(st, g_strdup_printf("unexpected argument '%s'", arg));
		return 0;
	}
	opt = find_option(arg, &value, &long_form);
	/* A flag takes no value, the others one. */
	if (opt && (opt->kind == FLAG || opt->kind == LIBFUSE) == !value)
		return take_option(st, opt, value, long_form, outargs);
	if (sv_option_is_ignored(arg))
		return 0;
	if (matches(arg, passed_exact, passed_prefixes))
		return 1;
	return fail(st, g_strdup_printf("unknown option '%s'", arg));
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

/* Stores the number text gives for opt, or its fallback; nothing for other kinds. */
static int resolve_number(struct parse_state *st, const struct option *opt, const char *text)
{
	void *field = G_STRUCT_MEMBER_P(st->opts, opt->field);
	gint64 value = opt->fallback;
	guint64 given;

	if (opt->kind != COUNT && opt->kind != FD && opt->kind != SECONDS)
		return 0;
	if (text) {
		if (parse_unsigned(st, opt->name, text, opt->min, opt->max, &given) < 0)
			return -1;
		value = (gint64)given;
	}
	if (opt->kind == COUNT)
		*(unsigned int *)field = (unsigned int)value;
	else if (opt->kind == FD)
		*(int *)field = (int)value;
	else
		*(double *)field = (double)value;
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

	for (size_t i = 0; i < G_N_ELEMENTS(options); i++)
		if (resolve_number(st, &options[i], st->number_text[i]) < 0)
			return -1;
	if (opts->closure_path && !*opts->closure_path)
		return fail(st, g_strdup("empty file name in closure="));
	if (opts->store_dir && opts->store_dir[0] != '/')
		return fail(st, g_strdup_printf("store_dir='%s' is not an absolute path", opts->store_dir));
	if (!opts->store_dir)
		opts->store_dir = g_strdup(opts->source);
	if (opts->closure_path)
		absolutize(&opts->closure_path);
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

	/* No templates: opt_proc sees every option and looks it up in options[]. */
	if (fuse_opt_parse(&args, &st, NULL, opt_proc) < 0) {
		if (!st.error)
			st.error = g_strdup("invalid command line");
		goto out;
	}
	if (opts->debug)
		opts->foreground = true;
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
	for (size_t i = 0; i < G_N_ELEMENTS(options); i++)
		g_free(st.number_text[i]);
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
	for (size_t i = 0; i < G_N_ELEMENTS(options); i++)
		if (options[i].kind == TEXT)
			g_free(*(char **)G_STRUCT_MEMBER_P(opts, options[i].field));
	free(opts->forced_opts);
	memset(opts, 0, sizeof(*opts));
}

/* Prints "left  text", text wrapped at HELP_WIDTH in a column of its own. */
#define HELP_COLUMN 27
#define HELP_WIDTH 77
static void print_wrapped(const char *left, const char *text)
{
	g_auto(GStrv) words = g_strsplit(text, " ", -1);
	int column = printf("    %-*s ", HELP_COLUMN - 5, left);

	for (char **word = words; *word; word++) {
		int len = (int)strlen(*word);

		if (word != words && column + 1 + len > HELP_WIDTH)
			column = printf("\n%*s", HELP_COLUMN, "") - 1;
		else if (word != words)
			column += printf(" ");
		column += printf("%s", *word);
	}
	printf("\n");
}

static void print_option_help(const struct option *opt)
{
	g_autofree char *long_name = g_strdelimit(g_strdup(opt->name), "_", '-');
	g_autofree char *left = NULL;
	g_autofree char *text = NULL;

	if (opt->letter)
		left = g_strdup_printf("-%c, --%s", opt->letter, long_name);
	else if (opt->value_name)
		left = g_strdup_printf("-o %s=%s", opt->name, opt->value_name);
	else
		left = g_strdup_printf("-o %s", opt->name);
	if (opt->kind == COUNT || opt->kind == SECONDS)
		text = g_strdup_printf("%s (default %" G_GINT64_FORMAT ")", opt->help, opt->fallback);
	print_wrapped(left, text ? text : opt->help);
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
	       "options (each also as --NAME[=VALUE]):\n",
	       progname, progname);
	for (size_t i = 0; i < G_N_ELEMENTS(options); i++)
		if (options[i].help)
			print_option_help(&options[i]);
	printf("    -o OPTION              libfuse mount options: allow_root, auto_unmount,\n"
	       "                           noexec, fsname=, subtype=, max_read=, ...\n"
	       "\n"
	       "Always in force: ro, nosuid, nodev, default_permissions.  Options of\n"
	       "mount(8), fstab and systemd (rw, suid, dev, nofail, noauto, _netdev, user,\n"
	       "users, defaults, comment=, x-*) are accepted and ignored.\n"
	       "\n"
	       "See storeview(1) for the exec wrapper, fstab and systemd use.\n");
}
