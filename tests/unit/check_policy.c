/* Unit tests for policy.c: flags, ownership, access and names. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <check.h>

#include "policy.h"
#include "suites.h"

START_TEST(noatime_is_dropped_and_counted)
{
	int flags = -1;
	bool dropped = false;

	ck_assert_int_eq(sv_policy_backing_open_flags(O_RDONLY | O_NOATIME, &flags, &dropped), 0);
	ck_assert(dropped);
	ck_assert_int_eq(flags & O_NOATIME, 0);
	ck_assert_int_eq(flags & O_ACCMODE, O_RDONLY);
	ck_assert(flags & O_NOFOLLOW);
	ck_assert(flags & O_CLOEXEC);

	ck_assert_int_eq(sv_policy_backing_open_flags(O_RDONLY, &flags, &dropped), 0);
	ck_assert(!dropped);
}
END_TEST

START_TEST(writing_opens_are_erofs)
{
	static const int writing[] = {
		O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_RDONLY | O_CREAT,
		O_WRONLY | O_APPEND, O_RDWR | O_NOATIME, O_RDONLY | O_APPEND,
	};
	int flags;
	bool dropped;

	for (size_t i = 0; i < sizeof(writing) / sizeof(writing[0]); i++)
		ck_assert_int_eq(sv_policy_backing_open_flags(writing[i], &flags, &dropped), -EROFS);
}
END_TEST

START_TEST(client_flags_do_not_reach_backing_file)
{
	int flags;
	bool dropped;

	ck_assert_int_eq(sv_policy_backing_open_flags(O_RDONLY | O_NONBLOCK | O_DIRECT | O_SYNC |
						      O_NOATIME | O_LARGEFILE,
						      &flags, &dropped), 0);
	ck_assert_int_eq(flags, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
}
END_TEST

START_TEST(present_attr_replaces_only_owner)
{
	struct stat st = { .st_mode = S_IFREG | 0555, .st_uid = 0, .st_gid = 0,
			   .st_size = 42, .st_nlink = 3, .st_ino = 77 };

	sv_policy_present_attr(&st, 65534, 100);
	ck_assert_uint_eq(st.st_uid, 65534);
	ck_assert_uint_eq(st.st_gid, 100);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0555);
	ck_assert_int_eq(st.st_size, 42);
	ck_assert_uint_eq(st.st_nlink, 3);
	ck_assert_uint_eq(st.st_ino, 77);
}
END_TEST

START_TEST(narrow_mode_grants_no_more_than_source)
{
	/* Store entries keep their modes. */
	ck_assert_uint_eq(sv_policy_narrow_mode(S_IFDIR | 0555, 0, 65534), S_IFDIR | 0555);
	ck_assert_uint_eq(sv_policy_narrow_mode(S_IFREG | 0444, 0, 65534), S_IFREG | 0444);
	ck_assert_uint_eq(sv_policy_narrow_mode(S_IFREG | 04755, 0, 65534), S_IFREG | 04755);
	/* Root-only entries are closed to the reported owner too. */
	ck_assert_uint_eq(sv_policy_narrow_mode(S_IFREG | 0400, 0, 65534), S_IFREG | 0000);
	ck_assert_uint_eq(sv_policy_narrow_mode(S_IFDIR | 0750, 0, 65534), S_IFDIR | 0200);
	/* Write bits stay as they are: a read-only view grants no writing. */
	ck_assert_uint_eq(sv_policy_narrow_mode(S_IFREG | 0644, 0, 65534), S_IFREG | 0644);
	ck_assert_uint_eq(sv_policy_narrow_mode(S_IFREG | 0600, 0, 65534), S_IFREG | 0200);
	/* The real owner reported as owner keeps its bits. */
	ck_assert_uint_eq(sv_policy_narrow_mode(S_IFDIR | 0700, 1000, 1000), S_IFDIR | 0700);
	/* Others may be the real owner (not root) or in its group. */
	ck_assert_uint_eq(sv_policy_narrow_mode(S_IFREG | 0046, 1000, 65534), S_IFREG | 0402);
	ck_assert_uint_eq(sv_policy_narrow_mode(S_IFREG | 0754, 1000, 65534), S_IFREG | 0644);
}
END_TEST

START_TEST(access_follows_real_owner)
{
	struct sv_caller nobody = { .uid = 65534, .gid = 65534 };
	struct sv_caller root = { .uid = 0, .gid = 0 };
	struct sv_caller owner = { .uid = 1000, .gid = 1000 };
	gid_t groups[] = { 5, 30 };
	struct sv_caller member = { .uid = 65534, .gid = 65534, .groups = groups, .ngroups = 2 };

	/* Store files: world-readable. */
	ck_assert(sv_policy_may_access(S_IFREG | 0444, 0, 0, &nobody, SV_ACCESS_READ));
	ck_assert(!sv_policy_may_access(S_IFREG | 0444, 0, 0, &nobody, SV_ACCESS_EXEC));
	ck_assert(sv_policy_may_access(S_IFDIR | 0555, 0, 0, &nobody, SV_ACCESS_EXEC | SV_ACCESS_READ));
	/* Root-only files stay closed to others, whatever owner is reported. */
	ck_assert(!sv_policy_may_access(S_IFREG | 0400, 0, 0, &nobody, SV_ACCESS_READ));
	ck_assert(sv_policy_may_access(S_IFREG | 0400, 0, 0, &root, SV_ACCESS_READ));
	ck_assert(sv_policy_may_access(S_IFREG | 0400, 1000, 0, &owner, SV_ACCESS_READ));
	ck_assert(!sv_policy_may_access(S_IFDIR | 0700, 0, 0, &nobody, SV_ACCESS_EXEC));
	/* Group bits through supplementary groups. */
	ck_assert(sv_policy_may_access(S_IFREG | 0440, 0, 30, &member, SV_ACCESS_READ));
	ck_assert(!sv_policy_may_access(S_IFREG | 0440, 0, 31, &member, SV_ACCESS_READ));
	/* Owner bits apply to the owner even when others have more. */
	ck_assert(!sv_policy_may_access(S_IFREG | 0044, 1000, 0, &owner, SV_ACCESS_READ));
	/* root cannot execute a file with no x bit. */
	ck_assert(!sv_policy_may_access(S_IFREG | 0644, 0, 0, &root, SV_ACCESS_EXEC));
	ck_assert(sv_policy_may_access(S_IFREG | 0100, 5, 5, &root, SV_ACCESS_EXEC));
}
END_TEST

START_TEST(groups_needed_only_when_they_decide)
{
	ck_assert(!sv_policy_needs_groups(S_IFREG | 0444, 0, 0, 65534, 65534, SV_ACCESS_READ));
	ck_assert(!sv_policy_needs_groups(S_IFREG | 0400, 0, 0, 65534, 65534, SV_ACCESS_READ));
	ck_assert(sv_policy_needs_groups(S_IFREG | 0440, 0, 30, 65534, 65534, SV_ACCESS_READ));
	ck_assert(sv_policy_needs_groups(S_IFREG | 0404, 0, 30, 65534, 65534, SV_ACCESS_READ));
	ck_assert(!sv_policy_needs_groups(S_IFREG | 0440, 0, 30, 65534, 30, SV_ACCESS_READ));
	ck_assert(!sv_policy_needs_groups(S_IFREG | 0440, 0, 30, 0, 0, SV_ACCESS_READ));
}
END_TEST

START_TEST(names)
{
	char longest[NAME_MAX + 2];

	ck_assert(sv_policy_name_is_valid("abc-hello-2.12"));
	ck_assert(sv_policy_name_is_valid("..."));
	ck_assert(sv_policy_name_is_valid(".hidden"));
	ck_assert(sv_policy_name_is_valid("with\nnewline"));
	ck_assert(sv_policy_name_is_valid("\xff\xfe invalid utf-8"));
	ck_assert(!sv_policy_name_is_valid(""));
	ck_assert(!sv_policy_name_is_valid("."));
	ck_assert(!sv_policy_name_is_valid(".."));
	ck_assert(!sv_policy_name_is_valid("a/b"));
	ck_assert(!sv_policy_name_is_valid("/"));
	ck_assert(!sv_policy_name_is_valid("../etc"));
	memset(longest, 'x', NAME_MAX);
	longest[NAME_MAX] = '\0';
	ck_assert(sv_policy_name_is_valid(longest));
	longest[NAME_MAX] = 'x';
	longest[NAME_MAX + 1] = '\0';
	ck_assert(!sv_policy_name_is_valid(longest));
}
END_TEST

START_TEST(trusted_xattrs_only_for_root)
{
	ck_assert(sv_policy_xattr_visible("trusted.overlay.opaque", 0));
	ck_assert(!sv_policy_xattr_visible("trusted.overlay.opaque", 65534));
	ck_assert(!sv_policy_xattr_visible("trusted.", 1000));
	ck_assert(sv_policy_xattr_visible("user.trusted.x", 65534));
	ck_assert(sv_policy_xattr_visible("trusted", 65534));
	ck_assert(sv_policy_xattr_visible("security.capability", 65534));
	ck_assert(sv_policy_xattr_visible("system.posix_acl_access", 65534));
}
END_TEST

Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, noatime_is_dropped_and_counted);
	tcase_add_test(tc, writing_opens_are_erofs);
	tcase_add_test(tc, client_flags_do_not_reach_backing_file);
	tcase_add_test(tc, present_attr_replaces_only_owner);
	tcase_add_test(tc, narrow_mode_grants_no_more_than_source);
	tcase_add_test(tc, access_follows_real_owner);
	tcase_add_test(tc, groups_needed_only_when_they_decide);
	tcase_add_test(tc, names);
	tcase_add_test(tc, trusted_xattrs_only_for_root);
	suite_add_tcase(s, tc);
	return s;
}
