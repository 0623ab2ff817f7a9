/* Unit tests for ids.c: user and group names or numbers. */
#include "config.h"

#include <stdlib.h>
#include <check.h>
#include <glib.h>

#include "ids.h"
#include "suites.h"

START_TEST(numbers_need_no_passwd_entry)
{
	uid_t uid;
	gid_t gid, primary;
	char *error = NULL;

	ck_assert_int_eq(sv_resolve_uid("54321", &uid, &primary, &error), 0);
	ck_assert_uint_eq(uid, 54321);
	ck_assert_uint_eq(primary, (gid_t)-1);
	ck_assert_int_eq(sv_resolve_gid("4242", &gid, &error), 0);
	ck_assert_uint_eq(gid, 4242);
	ck_assert_ptr_null(error);
}
END_TEST

START_TEST(names_resolve_with_primary_group)
{
	uid_t uid;
	gid_t gid, primary;
	char *error = NULL;

	ck_assert_int_eq(sv_resolve_uid("root", &uid, &primary, &error), 0);
	ck_assert_uint_eq(uid, 0);
	ck_assert_uint_eq(primary, 0);
	ck_assert_int_eq(sv_resolve_uid("nobody", &uid, &primary, &error), 0);
	ck_assert_uint_eq(uid, 65534);
	ck_assert_uint_eq(primary, 65534);
	ck_assert_int_eq(sv_resolve_uid("0", &uid, &primary, &error), 0);
	ck_assert_uint_eq(primary, 0);
	ck_assert_int_eq(sv_resolve_gid("root", &gid, &error), 0);
	ck_assert_uint_eq(gid, 0);
}
END_TEST

START_TEST(unknown_names_are_one_line_errors)
{
	uid_t uid;
	gid_t gid, primary;
	char *error = NULL;

	ck_assert_int_eq(sv_resolve_uid("no-such-user-storeview", &uid, &primary, &error), -1);
	ck_assert_str_eq(error, "unknown user 'no-such-user-storeview' in uid=");
	g_free(error);
	error = NULL;
	ck_assert_int_eq(sv_resolve_gid("no-such-group-storeview", &gid, &error), -1);
	ck_assert_str_eq(error, "unknown group 'no-such-group-storeview' in gid=");
	g_free(error);
	error = NULL;
	ck_assert_int_eq(sv_resolve_uid("", &uid, &primary, &error), -1);
	g_free(error);
	error = NULL;
	/* Out of range or signed numbers are names, and no such user exists. */
	ck_assert_int_eq(sv_resolve_uid("4294967295", &uid, &primary, &error), -1);
	g_free(error);
	error = NULL;
	ck_assert_int_eq(sv_resolve_uid("-1", &uid, &primary, &error), -1);
	g_free(error);
}
END_TEST

Suite *ids_suite(void)
{
	Suite *s = suite_create("ids");
	TCase *tc = tcase_create("ids");

	tcase_add_test(tc, numbers_need_no_passwd_entry);
	tcase_add_test(tc, names_resolve_with_primary_group);
	tcase_add_test(tc, unknown_names_are_one_line_errors);
	suite_add_tcase(s, tc);
	return s;
}
