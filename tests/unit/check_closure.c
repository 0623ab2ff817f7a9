/* Unit tests for closure.c: the nix-store -qR format and its errors. */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "closure.h"
#include "suites.h"

static struct sv_closure *parse(const char *text, char **error)
{
	*error = NULL;
	return sv_closure_parse(text, strlen(text), "test", "/nix/store", error);
}

START_TEST(nix_store_output_and_bare_names)
{
	char *error;
	g_autoptr(sv_closure) c = parse(
		"/nix/store/0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12\n"
		"\n"
		"# a comment\n"
		"  /nix/store/3x4d0kd7n0h3wjvh1g43r6w9z9nls0vz-glibc-2.38  \n"
		"/nix/store/aaaa-deep/bin/tool\n"
		"bbbb-bare-name\n"
		"/nix/store/0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12\n"
		"/nix/store/cccc-no-newline-at-end", &error);

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(error);
	ck_assert_uint_eq(sv_closure_size(c), 5);
	ck_assert(sv_closure_contains(c, "0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12"));
	ck_assert(sv_closure_contains(c, "3x4d0kd7n0h3wjvh1g43r6w9z9nls0vz-glibc-2.38"));
	ck_assert(sv_closure_contains(c, "aaaa-deep"));
	ck_assert(sv_closure_contains(c, "bbbb-bare-name"));
	ck_assert(sv_closure_contains(c, "cccc-no-newline-at-end"));
	ck_assert(!sv_closure_contains(c, "bin"));
	ck_assert(!sv_closure_contains(c, "aaaa"));
}
END_TEST

START_TEST(store_dir_with_trailing_slash)
{
	char *error = NULL;
	g_autoptr(sv_closure) c = sv_closure_parse("/s/x-a\n", 6, "t", "/s/", &error);

	ck_assert_ptr_nonnull(c);
	ck_assert(sv_closure_contains(c, "x-a"));
}
END_TEST

START_TEST(empty_closure_shows_nothing)
{
	char *error;
	g_autoptr(sv_closure) c = parse("# nothing\n\n", &error);

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(sv_closure_size(c), 0);
}
END_TEST

START_TEST(bad_lines_are_named)
{
	static const struct { const char *text; const char *error; } cases[] = {
		{ "/nix/store/ok\n/etc/passwd\n", "closure test:2: '/etc/passwd' is not under the store directory" },
		{ "/nix/storefoo-x\n", "closure test:1: '/nix/storefoo-x' is not under the store directory" },
		{ "/nix/store\n", "closure test:1: '/nix/store' is not under the store directory" },
		{ "/nix/store/\n", "closure test:1: '/nix/store/' does not name a store entry" },
		{ "/nix/store/..\n", "closure test:1: '/nix/store/..' does not name a store entry" },
		{ "/nix/store/./x\n", "closure test:1: '/nix/store/./x' does not name a store entry" },
		{ "..\n", "closure test:1: '..' does not name a store entry" },
		{ "a/b\n", "closure test:1: 'a/b' is neither an absolute store path nor an entry name" },
		{ "ok\nbad\x01\x02/x\n", "closure test:2: 'bad\\001\\002/x' is neither an absolute store path nor an entry name" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *error;
		struct sv_closure *c = parse(cases[i].text, &error);

		ck_assert_ptr_null(c);
		ck_assert_str_eq(error, cases[i].error);
		ck_assert_ptr_null(strchr(error, '\n'));
		g_free(error);
	}
}
END_TEST

START_TEST(nul_bytes_are_refused)
{
	static const char text[] = "ok\nsneaky\0/../x\n";
	char *error = NULL;
	struct sv_closure *c = sv_closure_parse(text, sizeof(text) - 1, "t", "/nix/store", &error);

	ck_assert_ptr_null(c);
	ck_assert_str_eq(error, "closure t:2: 'sneaky' contains a NUL byte");
	g_free(error);
}
END_TEST

START_TEST(difference_and_missing)
{
	char *error;
	g_autoptr(sv_closure) a = parse("x\ny\nz\n", &error);
	g_autoptr(sv_closure) b = parse("y\nw\n", &error);
	g_autoptr(GPtrArray) gone = sv_closure_difference(a, b);
	g_autoptr(GPtrArray) all = sv_closure_difference(b, NULL);
	g_autofree char *tmp = g_dir_make_tmp("storeview-closure-XXXXXX", NULL);
	g_autofree char *y = g_build_filename(tmp, "y", NULL);
	int fd;

	ck_assert_uint_eq(gone->len, 2);
	ck_assert_uint_eq(all->len, 2);
	ck_assert_int_eq(g_mkdir(y, 0755), 0);
	fd = open(tmp, O_PATH | O_DIRECTORY);
	g_autoptr(GPtrArray) missing = sv_closure_missing(b, fd);
	ck_assert_uint_eq(missing->len, 1);
	ck_assert_str_eq(missing->pdata[0], "w");
	close(fd);
	g_rmdir(y);
	g_rmdir(tmp);
}
END_TEST

START_TEST(load_reports_unreadable_file)
{
	char *error = NULL;

	ck_assert_ptr_null(sv_closure_load("/nonexistent/closure", "/nix/store", &error));
	ck_assert_ptr_nonnull(strstr(error, "closure: "));
	ck_assert_ptr_nonnull(strstr(error, "/nonexistent/closure"));
	g_free(error);
}
END_TEST

Suite *closure_suite(void)
{
	Suite *s = suite_create("closure");
	TCase *tc = tcase_create("closure");

	tcase_add_test(tc, nix_store_output_and_bare_names);
	tcase_add_test(tc, store_dir_with_trailing_slash);
	tcase_add_test(tc, empty_closure_shows_nothing);
	tcase_add_test(tc, bad_lines_are_named);
	tcase_add_test(tc, nul_bytes_are_refused);
	tcase_add_test(tc, difference_and_missing);
	tcase_add_test(tc, load_reports_unreadable_file);
	suite_add_tcase(s, tc);
	return s;
}
