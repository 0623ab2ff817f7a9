/* Unit tests for options.c: what reaches libfuse, what is ours, what is refused. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <fuse_lowlevel.h>
#include <glib.h>

#include "options.h"
#include "suites.h"

static struct sv_options opts;
static struct fuse_args fargs;
static char *error;

/* Parses "storeview" followed by the NULL-terminated arguments. */
static int parse(const char *first, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	va_list ap;

	g_ptr_array_add(argv, "storeview");
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		g_ptr_array_add(argv, (char *)a);
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	sv_options_clear(&opts);
	fuse_opt_free_args(&fargs);
	g_free(error);
	error = NULL;
	return sv_options_parse((int)argv->len - 1, (char **)argv->pdata, &opts, &fargs, &error);
}

/* The -o string storeview hands to libfuse, joined. */
static char *fuse_opts_joined(void)
{
	GString *s = g_string_new("");

	for (int i = 1; i < fargs.argc; i++)
		g_string_append_printf(s, "%s%s", i > 1 ? " " : "", fargs.argv[i]);
	return g_string_free(s, FALSE);
}

static void teardown(void)
{
	sv_options_clear(&opts);
	fuse_opt_free_args(&fargs);
	g_free(error);
	error = NULL;
}

START_TEST(source_and_mountpoint)
{
	ck_assert_int_eq(parse("/nix/store", "/run/view", NULL), 0);
	ck_assert_str_eq(opts.source, "/nix/store");
	ck_assert_str_eq(opts.mountpoint, "/run/view");
	ck_assert_uint_eq(opts.uid, getuid());
	ck_assert_uint_eq(opts.gid, getgid());
	ck_assert(!opts.foreground);
	ck_assert_double_eq(opts.timeout, SV_DEFAULT_TIMEOUT);
	ck_assert_int_eq(opts.ready_fd, -1);
}
END_TEST

START_TEST(paths_are_made_absolute)
{
	g_autofree char *cwd = g_get_current_dir();
	g_autofree char *source = g_build_filename(cwd, "store", NULL);
	g_autofree char *mnt = g_build_filename(cwd, "view", NULL);
	g_autofree char *closure = g_build_filename(cwd, "c", NULL);

	ck_assert_int_eq(parse("-o", "closure=./c", "store", "./view/", NULL), 0);
	ck_assert_str_eq(opts.source, source);
	ck_assert_str_eq(opts.mountpoint, mnt);
	ck_assert_str_eq(opts.closure_path, closure);
	ck_assert_str_eq(opts.store_dir, source);
	ck_assert_int_eq(parse("-o", "store_dir=nix/store", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "store_dir='nix/store' is not an absolute path");
}
END_TEST

START_TEST(forced_options_reach_libfuse)
{
	g_autofree char *joined = NULL;

	ck_assert_int_eq(parse("/s,x/", "/m", NULL), 0);
	joined = fuse_opts_joined();
	ck_assert_str_eq(joined, "-o fsname=/s\\,x,subtype=storeview,ro,nosuid,nodev,default_permissions");
}
END_TEST

START_TEST(uid_and_gid_by_name_and_number)
{
	ck_assert_int_eq(parse("-o", "uid=nobody", "/s", "/m", NULL), 0);
	ck_assert_uint_eq(opts.uid, 65534);
	ck_assert_uint_eq(opts.gid, 65534);	/* nobody's primary group */
	ck_assert_int_eq(parse("-o", "uid=1234,gid=root", "/s", "/m", NULL), 0);
	ck_assert_uint_eq(opts.uid, 1234);
	ck_assert_uint_eq(opts.gid, 0);
	ck_assert_int_eq(parse("--uid=0", "--gid=4321", "/s", "/m", NULL), 0);
	ck_assert_uint_eq(opts.uid, 0);
	ck_assert_uint_eq(opts.gid, 4321);
	ck_assert_int_eq(parse("-o", "uid=no-such-user-storeview", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "unknown user 'no-such-user-storeview' in uid=");
}
END_TEST

START_TEST(long_and_short_forms)
{
	ck_assert_int_eq(parse("-f", "-s", "--recover-stale", "--timeout=5",
			       "--dir-fd-cache=64", "/s", "/m", NULL), 0);
	ck_assert(opts.foreground);
	ck_assert(opts.singlethread);
	ck_assert(opts.recover_stale);
	ck_assert_double_eq(opts.timeout, 5);
	ck_assert_uint_eq(opts.dir_fd_cache, 64);
	ck_assert(!opts.no_open);
	ck_assert_int_eq(parse("-o", "recover_stale,timeout=0,dir_fd_cache=16,max_threads=2",
			       "/s", "/m", NULL), 0);
	ck_assert(opts.recover_stale);
	ck_assert(!opts.no_open);
	ck_assert_double_eq(opts.timeout, 0);
	ck_assert_uint_eq(opts.dir_fd_cache, 16);
	ck_assert_uint_eq(opts.max_threads, 2);
	ck_assert_int_eq(parse("-o", "no_open", "/s", "/m", NULL), 0);
	ck_assert(opts.no_open);
	ck_assert_int_eq(parse("--no-open", "/s", "/m", NULL), 0);
	ck_assert(opts.no_open);
	ck_assert(!opts.no_prefetch);
	ck_assert_int_eq(parse("-o", "ro,no_prefetch", "/s", "/m", NULL), 0);
	ck_assert(opts.no_prefetch && !opts.no_open && !opts.no_passthrough);
	ck_assert_int_eq(parse("-o", "no_passthrough", "/s", "/m", NULL), 0);
	ck_assert(opts.no_passthrough && !opts.no_prefetch);
	ck_assert_int_eq(parse("--no-passthrough", "/s", "/m", NULL), 0);
	ck_assert(opts.no_passthrough);
	ck_assert_int_eq(parse("-d", "/s", "/m", NULL), 0);
	ck_assert(opts.debug && opts.foreground);
}
END_TEST

/* --help promises --NAME for every option: dashes or underscores, flags and values alike. */
START_TEST(every_option_as_dash_dash_name)
{
	g_autofree char *joined = NULL;

	ck_assert_int_eq(parse("--no-prefetch", "--no_open", "--closure-strict", "--virtfs_xattrs",
			       "--single-thread", "--max-threads=3", "--store_dir=/st", "/s", "/m", NULL), 0);
	ck_assert(opts.no_prefetch && opts.no_open && opts.closure_strict && opts.virtfs_xattrs);
	ck_assert(opts.singlethread && !opts.no_passthrough && !opts.recover_stale);
	ck_assert_uint_eq(opts.max_threads, 3);
	ck_assert_str_eq(opts.store_dir, "/st");
	ck_assert_int_eq(parse("--allow-other", "/s", "/m", NULL), 0);
	joined = fuse_opts_joined();
	ck_assert_ptr_nonnull(strstr(joined, "-o allow_other"));
	/* A flag takes no value, and a valued option needs one. */
	ck_assert_int_eq(parse("--no-prefetch=yes", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "unknown option '--no-prefetch=yes'");
	ck_assert_int_eq(parse("--timeout", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "unknown option '--timeout'");
	ck_assert_int_eq(parse("--allow-other=1", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "unknown option '--allow-other=1'");
}
END_TEST

/* -o NAME is for the options of a mount; -f, -s, -h and -V belong to the command line. */
START_TEST(command_line_only_options_are_no_mount_options)
{
	ck_assert_int_eq(parse("-o", "foreground", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "unknown option 'foreground'");
	ck_assert_int_eq(parse("-o", "single_thread", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "unknown option 'single_thread'");
	ck_assert_int_eq(parse("-o", "help", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "unknown option 'help'");
	ck_assert_int_eq(parse("-o", "debug", "/s", "/m", NULL), 0);
	ck_assert(opts.debug && opts.foreground);
	ck_assert_int_eq(parse("-x", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "unknown option '-x'");
}
END_TEST

/* Every option --help lists is one the parser takes in that form. */
START_TEST(help_lists_what_is_accepted)
{
	g_autofree char *help = NULL;
	g_auto(GStrv) lines = NULL;
	int out[2], saved = dup(STDOUT_FILENO);
	GString *all = g_string_new(NULL);
	char chunk[4096];
	ssize_t n;
	int listed = 0;

	ck_assert_int_eq(pipe(out), 0);
	fflush(stdout);
	dup2(out[1], STDOUT_FILENO);
	close(out[1]);
	sv_options_print_usage("storeview");
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	while ((n = read(out[0], chunk, sizeof(chunk))) > 0)
		g_string_append_len(all, chunk, n);
	close(out[0]);
	help = g_string_free(all, FALSE);
	ck_assert_ptr_nonnull(strstr(help, "(default 3600)"));

	lines = g_strsplit(help, "\n", -1);
	for (char **line = lines; *line; line++) {
		g_auto(GStrv) words = NULL;
		g_autofree char *as_long = NULL;
		char *name, *eq;

		if (!g_str_has_prefix(*line, "    -o ") || g_str_has_prefix(*line, "    -o OPTION"))
			continue;
		words = g_strsplit(*line + 7, " ", 2);
		name = words[0];
		/* NAME=VALUE: one the parser takes stands in for VALUE. */
		if ((eq = strchr(name, '='))) {
			const char *value = g_str_equal(eq + 1, "USER") || g_str_equal(eq + 1, "GROUP") ? "0" :
					    g_str_equal(eq + 1, "FILE") || g_str_equal(eq + 1, "DIR") ? "/x" : "16";

			*eq = '\0';
			as_long = g_strdup_printf("--%s=%s", name, value);
			name = g_strdup_printf("%s=%s", name, value);
		} else {
			as_long = g_strdup_printf("--%s", name);
			g_strdelimit(as_long + 2, "_", '-');
			name = g_strdup(name);
		}
		ck_assert_msg(parse("-o", name, "/s", "/m", NULL) == 0, "-o %s: %s", name, error);
		ck_assert_msg(parse(as_long, "/s", "/m", NULL) == 0, "%s: %s", as_long, error);
		g_free(name);
		listed++;
	}
	ck_assert_int_ge(listed, 13);
}
END_TEST

START_TEST(mount_and_systemd_options_are_ignored)
{
	g_autofree char *joined = NULL;

	/* What mount(8) and fstab hand to mount.fuse3, seen on this machine. */
	ck_assert_int_eq(parse("-o", "rw,dev,suid,nofail,noauto,auto,_netdev,user,users,nouser,"
			       "defaults,ro,default_permissions,x-systemd.requires=local-fs.target,"
			       "x-systemd.automount,comment=hello,noatime,nodiratime,relatime,lazytime,sync",
			       "/s", "/m", NULL), 0);
	joined = fuse_opts_joined();
	ck_assert_str_eq(joined, "-o fsname=/s,subtype=storeview,ro,nosuid,nodev,default_permissions");
}
END_TEST

START_TEST(libfuse_options_pass_through)
{
	g_autofree char *joined = NULL;

	ck_assert_int_eq(parse("-o", "allow_other,noexec,auto_unmount", "/s", "/m", NULL), 0);
	joined = fuse_opts_joined();
	ck_assert_ptr_nonnull(strstr(joined, "allow_other"));
	ck_assert_ptr_nonnull(strstr(joined, "noexec"));
	ck_assert_ptr_nonnull(strstr(joined, "auto_unmount"));
}
END_TEST

/* Every option storeview passes on must be one libfuse really accepts. */
START_TEST(libfuse_accepts_what_is_passed)
{
	static const char *passed[] = {
		"allow_other", "allow_root", "auto_unmount", "exec", "noexec", "nosuid",
		"nodev", "fsname=x", "subtype=y", "max_read=131072", "context=system_u:object_r:tmp_t:s0",
		"fscontext=x", "defcontext=x", "rootcontext=x",
	};
	struct fuse_lowlevel_ops ops = { 0 };

	for (size_t i = 0; i < G_N_ELEMENTS(passed); i++) {
		struct fuse_session *se;

		ck_assert_int_eq(parse("-o", passed[i], "/s", "/m", NULL), 0);
		se = fuse_session_new(&fargs, &ops, sizeof(ops), NULL);
		ck_assert_msg(se != NULL, "libfuse refused -o %s", passed[i]);
		fuse_session_destroy(se);
	}
}
END_TEST

START_TEST(bad_input_is_refused_by_name)
{
	ck_assert_int_eq(parse("-o", "frobnicate", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "unknown option 'frobnicate'");
	ck_assert_int_eq(parse("--frobnicate", "/s", "/m", NULL), -1);
	ck_assert_str_eq(error, "unknown option '--frobnicate'");
	ck_assert_int_eq(parse("/s", NULL), -1);
	ck_assert_str_eq(error, "missing MOUNTPOINT (see --help)");
	ck_assert_int_eq(parse(NULL), -1);
	ck_assert_str_eq(error, "missing SOURCE and MOUNTPOINT (see --help)");
	ck_assert_int_eq(parse("/a", "/b", "/c", NULL), -1);
	ck_assert_str_eq(error, "unexpected argument '/c'");
	ck_assert_int_eq(parse("-o", "timeout=soon", "/s", "/m", NULL), -1);
	ck_assert_ptr_nonnull(strstr(error, "bad value 'soon' for timeout="));
	ck_assert_int_eq(parse("-o", "dir_fd_cache=1", "/s", "/m", NULL), -1);
	ck_assert_ptr_nonnull(strstr(error, "bad value '1' for dir_fd_cache="));
	ck_assert_int_eq(parse("-o", "max_threads=0", "/s", "/m", NULL), -1);
	ck_assert_int_eq(parse("-o", "uid=", "/s", "/m", NULL), -1);
	ck_assert_ptr_null(strchr(error, '\n'));
}
END_TEST

START_TEST(help_and_version_need_no_paths)
{
	ck_assert_int_eq(parse("--help", NULL), 0);
	ck_assert(opts.show_help);
	ck_assert_int_eq(parse("-V", NULL), 0);
	ck_assert(opts.show_version);
}
END_TEST

START_TEST(ignored_option_classification)
{
	ck_assert(sv_option_is_ignored("nofail"));
	ck_assert(sv_option_is_ignored("x-systemd.device-timeout=5"));
	ck_assert(sv_option_is_ignored("comment=anything"));
	ck_assert(!sv_option_is_ignored("allow_other"));
	ck_assert(!sv_option_is_ignored("uid=0"));
	ck_assert(!sv_option_is_ignored("nofailure"));
}
END_TEST

Suite *options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("options");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, source_and_mountpoint);
	tcase_add_test(tc, paths_are_made_absolute);
	tcase_add_test(tc, forced_options_reach_libfuse);
	tcase_add_test(tc, uid_and_gid_by_name_and_number);
	tcase_add_test(tc, long_and_short_forms);
	tcase_add_test(tc, every_option_as_dash_dash_name);
	tcase_add_test(tc, command_line_only_options_are_no_mount_options);
	tcase_add_test(tc, help_lists_what_is_accepted);
	tcase_add_test(tc, mount_and_systemd_options_are_ignored);
	tcase_add_test(tc, libfuse_options_pass_through);
	tcase_add_test(tc, libfuse_accepts_what_is_passed);
	tcase_add_test(tc, bad_input_is_refused_by_name);
	tcase_add_test(tc, help_and_version_need_no_paths);
	tcase_add_test(tc, ignored_option_classification);
	suite_add_tcase(s, tc);
	return s;
}
