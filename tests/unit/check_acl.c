/*
 * Unit tests for ACL decisions (policy.c) and for reading ACLs (acl.c) from
 * a real scratch tree, without a mount.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <acl/libacl.h>
#include <sys/acl.h>
#include <check.h>
#include <glib.h>

#include "acl.h"
#include "inodes.h"
#include "policy.h"
#include "scratch.h"
#include "suites.h"

#define NOBODY 65534
#define ALICE 1000
#define STAFF 50

/* A 0644 root file's ACL with user:nobody:--- (setfacl -m u:nobody:- f). */
static const struct sv_acl_entry nobody_denied[] = {
	{ SV_ACL_USER_OBJ, 0, 6 },
	{ SV_ACL_USER, NOBODY, 0 },
	{ SV_ACL_GROUP_OBJ, 0, 4 },
	{ SV_ACL_MASK, 0, 4 },
	{ SV_ACL_OTHER, 0, 4 },
};

static bool may(const struct sv_acl_entry *acl, size_t n, uid_t uid, gid_t gid,
		const gid_t *groups, size_t ngroups, int want)
{
	struct sv_caller caller = { uid, gid, groups, ngroups };

	return sv_policy_acl_may_access(acl, n, S_IFREG | 0644, 0, 0, &caller, want);
}

START_TEST(named_user_entry_denies_what_others_get)
{
	size_t n = G_N_ELEMENTS(nobody_denied);

	ck_assert(!may(nobody_denied, n, NOBODY, NOBODY, NULL, 0, SV_ACCESS_READ));
	/* Not even through a group that would grant it: a named user entry decides. */
	ck_assert(!may(nobody_denied, n, NOBODY, 0, NULL, 0, SV_ACCESS_READ));
	ck_assert(may(nobody_denied, n, ALICE, ALICE, NULL, 0, SV_ACCESS_READ));
	ck_assert(!may(nobody_denied, n, ALICE, ALICE, NULL, 0, SV_ACCESS_WRITE));
	/* The owner entry, and root. */
	ck_assert(may(nobody_denied, n, 0, 0, NULL, 0, SV_ACCESS_READ | SV_ACCESS_WRITE));
}
END_TEST

START_TEST(mask_limits_named_entries_and_owning_group)
{
	static const struct sv_acl_entry acl[] = {
		{ SV_ACL_USER_OBJ, 0, 7 },
		{ SV_ACL_USER, ALICE, 7 },
		{ SV_ACL_GROUP_OBJ, 0, 5 },
		{ SV_ACL_GROUP, STAFF, 4 },
		{ SV_ACL_MASK, 0, 1 },
		{ SV_ACL_OTHER, 0, 5 },
	};
	size_t n = G_N_ELEMENTS(acl);
	gid_t staff[] = { STAFF };

	ck_assert(!may(acl, n, ALICE, ALICE, NULL, 0, SV_ACCESS_READ));
	ck_assert(may(acl, n, ALICE, ALICE, NULL, 0, SV_ACCESS_EXEC));
	/* In the owning group: group_obj & mask = x; no fall back to others' r-x. */
	ck_assert(!may(acl, n, NOBODY, 0, NULL, 0, SV_ACCESS_READ));
	ck_assert(may(acl, n, NOBODY, 0, NULL, 0, SV_ACCESS_EXEC));
	/* A named group that matches but grants nothing once masked: denied. */
	ck_assert(!may(acl, n, NOBODY, NOBODY, staff, 1, SV_ACCESS_READ));
	ck_assert(!may(acl, n, NOBODY, NOBODY, staff, 1, SV_ACCESS_EXEC));
	/* Neither: others. */
	ck_assert(may(acl, n, NOBODY, NOBODY, NULL, 0, SV_ACCESS_READ | SV_ACCESS_EXEC));
}
END_TEST

START_TEST(any_matching_group_entry_grants)
{
	static const struct sv_acl_entry acl[] = {
		{ SV_ACL_USER_OBJ, 0, 6 },
		{ SV_ACL_GROUP_OBJ, 0, 0 },
		{ SV_ACL_GROUP, STAFF, 4 },
		{ SV_ACL_MASK, 0, 4 },
		{ SV_ACL_OTHER, 0, 0 },
	};
	gid_t both[] = { 0, STAFF };

	ck_assert(may(acl, G_N_ELEMENTS(acl), ALICE, ALICE, both, 2, SV_ACCESS_READ));
	ck_assert(!may(acl, G_N_ELEMENTS(acl), ALICE, 0, NULL, 0, SV_ACCESS_READ));
}
END_TEST

START_TEST(root_needs_an_x_bit_to_execute)
{
	struct sv_caller root = { 0, 0, NULL, 0 };

	ck_assert(!sv_policy_acl_may_access(nobody_denied, G_N_ELEMENTS(nobody_denied),
					    S_IFREG | 0644, 0, 0, &root, SV_ACCESS_EXEC));
	ck_assert(sv_policy_acl_may_access(nobody_denied, G_N_ELEMENTS(nobody_denied),
					   S_IFDIR | 0644, 0, 0, &root, SV_ACCESS_EXEC));
}
END_TEST

START_TEST(anyone_is_the_least_entry)
{
	static const struct sv_acl_entry granting[] = {
		{ SV_ACL_USER_OBJ, 0, 7 },
		{ SV_ACL_USER, ALICE, 7 },
		{ SV_ACL_GROUP_OBJ, 0, 5 },
		{ SV_ACL_MASK, 0, 7 },
		{ SV_ACL_OTHER, 0, 5 },
	};
	static const struct sv_acl_entry masked[] = {
		{ SV_ACL_USER_OBJ, 0, 7 },
		{ SV_ACL_GROUP, STAFF, 7 },
		{ SV_ACL_GROUP_OBJ, 0, 7 },
		{ SV_ACL_MASK, 0, 1 },
		{ SV_ACL_OTHER, 0, 5 },
	};

	ck_assert_uint_eq(sv_policy_acl_anyone(nobody_denied, G_N_ELEMENTS(nobody_denied)), 0);
	ck_assert_uint_eq(sv_policy_acl_anyone(granting, G_N_ELEMENTS(granting)), 5);
	ck_assert_uint_eq(sv_policy_acl_anyone(masked, G_N_ELEMENTS(masked)), 1);
}
END_TEST

START_TEST(acl_mode_cuts_group_and_other_read_and_search)
{
	/* Nothing for anyone: the reported mode then grants only the owner. */
	ck_assert_uint_eq(sv_policy_acl_mode(S_IFREG | 0644, 0), S_IFREG | 0600);
	ck_assert_uint_eq(sv_policy_acl_mode(S_IFDIR | 0755, 1), S_IFDIR | 0711);
	ck_assert_uint_eq(sv_policy_acl_mode(S_IFDIR | 0755, 5), S_IFDIR | 0755);
	/* Never grants what the mode did not. */
	ck_assert_uint_eq(sv_policy_acl_mode(S_IFREG | 0640, 5), S_IFREG | 0640);
	/* Then narrowed as any mode: others see 0 for nobody's sake. */
	ck_assert_uint_eq(sv_policy_narrow_mode(sv_policy_acl_mode(S_IFREG | 0644, 0), 0, 0),
			  S_IFREG | 0600);
}
END_TEST

/* Reading: a scratch file, with and without an ACL. */

static char *tmp;
static int dirfd_;

static void setup(void)
{
	tmp = sv_scratch_new("acl");
	dirfd_ = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dirfd_, 0);
}

static void teardown(void)
{
	close(dirfd_);
	sv_scratch_free(tmp);
}

/* Makes name (a file, or a directory if dir) with mode, and text as its ACL unless NULL. */
static bool make(const char *name, bool dir, mode_t mode, const char *text)
{
	g_autofree char *path = g_build_filename(tmp, name, NULL);
	acl_t acl;
	int ret;

	if (dir)
		ck_assert_int_eq(mkdir(path, mode), 0);
	else
		ck_assert(g_file_set_contents(path, "x", 1, NULL));
	ck_assert_int_eq(chmod(path, mode), 0);
	if (!text)
		return true;
	acl = acl_from_text(text);
	ck_assert_ptr_nonnull(acl);
	ret = acl_set_file(path, ACL_TYPE_ACCESS, acl);
	acl_free(acl);
	if (ret < 0 && errno == ENOTSUP)
		return false;
	ck_assert_int_eq(ret, 0);
	return true;
}

START_TEST(probe_and_read_from_source)
{
	g_autofree struct sv_acl_entry *acl = NULL;
	struct stat st;
	int n;

	make("plain", false, 0644, NULL);
	if (!make("file", false, 0644, "u::rw-,u:65534:---,g::r--,m::r--,o::r--") ||
	    !make("dir", true, 0755, "u::rwx,u:65534:---,g::r-x,m::r-x,o::r-x")) {
		/* The scratch file system has no ACLs: nothing to read. */
		ck_assert_int_eq(sv_acl_probe(dirfd_, "plain"), 0);
		return;
	}
	ck_assert_int_eq(sv_acl_probe(dirfd_, "plain"), 0);
	ck_assert_int_eq(sv_acl_probe(dirfd_, "file"), 1);
	ck_assert_int_eq(sv_acl_probe(dirfd_, "dir"), 1);
	ck_assert_int_eq(sv_acl_probe(dirfd_, "absent"), -ENOENT);

	ck_assert_int_eq(fstatat(dirfd_, "file", &st, AT_SYMLINK_NOFOLLOW), 0);
	n = sv_acl_read(dirfd_, "file", st.st_dev, st.st_ino, &acl);
	ck_assert_int_eq(n, 5);
	ck_assert_uint_eq(sv_policy_acl_anyone(acl, (size_t)n), 0);
	struct sv_caller nobody = { NOBODY, NOBODY, NULL, 0 }, alice = { ALICE, ALICE, NULL, 0 };

	ck_assert(!sv_policy_acl_may_access(acl, (size_t)n, st.st_mode, st.st_uid, st.st_gid,
					    &nobody, SV_ACCESS_READ));
	ck_assert(sv_policy_acl_may_access(acl, (size_t)n, st.st_mode, st.st_uid, st.st_gid,
					   &alice, SV_ACCESS_READ));
	/* Not the entry it was: refused, never read from another. */
	g_clear_pointer(&acl, g_free);
	ck_assert_int_eq(sv_acl_read(dirfd_, "file", st.st_dev, st.st_ino + 1, &acl), -ESTALE);
}
END_TEST

START_TEST(symlinks_are_not_followed)
{
	g_autofree struct sv_acl_entry *acl = NULL;
	g_autofree char *link = g_build_filename(tmp, "link", NULL);
	struct stat st;

	if (!make("file", false, 0644, "u::rw-,u:65534:---,g::r--,m::r--,o::r--"))
		return;
	ck_assert_int_eq(symlink("file", link), 0);
	ck_assert_int_eq(sv_acl_probe(dirfd_, "link"), 0);
	ck_assert_int_eq(fstatat(dirfd_, "file", &st, 0), 0);
	ck_assert_int_eq(sv_acl_read(dirfd_, "link", st.st_dev, st.st_ino, &acl), -ESTALE);
}
END_TEST

/* Through the inode table: what the view reports and decides. */
START_TEST(inode_refresh_and_decisions)
{
	struct sv_inode_table *table;
	struct sv_inode *root, *file, *plain;
	struct sv_caller nobody = { NOBODY, NOBODY, NULL, 0 };
	struct stat st;
	int fd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	table = sv_inode_table_new(fd, 16);
	root = sv_inode_table_root(table);
	make("plain", false, 0644, NULL);
	if (!make("file", false, 0644, "u::rw-,u:65534:---,g::r--,m::r--,o::r--")) {
		sv_inode_table_free(table);
		return;
	}
	ck_assert_int_eq(fstatat(dirfd_, "plain", &st, AT_SYMLINK_NOFOLLOW), 0);
	plain = sv_inode_table_lookup(table, root, "plain", &st);
	sv_acl_refresh(table, plain, &st);
	ck_assert(!sv_acl_extended(plain));
	ck_assert_uint_eq(sv_acl_mode(plain, st.st_mode), st.st_mode);

	ck_assert_int_eq(fstatat(dirfd_, "file", &st, AT_SYMLINK_NOFOLLOW), 0);
	file = sv_inode_table_lookup(table, root, "file", &st);
	sv_acl_refresh(table, file, &st);
	ck_assert(sv_acl_extended(file));
	ck_assert_uint_eq(sv_acl_mode(file, st.st_mode), S_IFREG | 0600);
	ck_assert(!sv_acl_may_access(table, file, &nobody, SV_ACCESS_READ));

	/* The ACL removed: noticed from the ctime at the next refresh. */
	{
		g_autofree char *path = g_build_filename(tmp, "file", NULL);
		acl_t minimal = acl_from_mode(0644);

		ck_assert_int_eq(acl_set_file(path, ACL_TYPE_ACCESS, minimal), 0);
		acl_free(minimal);
	}
	ck_assert_int_eq(fstatat(dirfd_, "file", &st, AT_SYMLINK_NOFOLLOW), 0);
	sv_acl_refresh(table, file, &st);
	ck_assert(!sv_acl_extended(file));
	ck_assert_uint_eq(sv_acl_mode(file, st.st_mode), S_IFREG | 0644);

	/* Gone from SOURCE: fail closed. */
	ck_assert_int_eq(unlinkat(dirfd_, "file", 0), 0);
	ck_assert(!sv_acl_may_access(table, file, &nobody, SV_ACCESS_READ));
	sv_inode_table_free(table);
}
END_TEST

Suite *acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *decide = tcase_create("decisions");
	TCase *read = tcase_create("reading");

	tcase_add_test(decide, named_user_entry_denies_what_others_get);
	tcase_add_test(decide, mask_limits_named_entries_and_owning_group);
	tcase_add_test(decide, any_matching_group_entry_grants);
	tcase_add_test(decide, root_needs_an_x_bit_to_execute);
	tcase_add_test(decide, anyone_is_the_least_entry);
	tcase_add_test(decide, acl_mode_cuts_group_and_other_read_and_search);
	suite_add_tcase(s, decide);
	tcase_add_checked_fixture(read, setup, teardown);
	tcase_add_test(read, probe_and_read_from_source);
	tcase_add_test(read, symlinks_are_not_followed);
	tcase_add_test(read, inode_refresh_and_decisions);
	suite_add_tcase(s, read);
	return s;
}
