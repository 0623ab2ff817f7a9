/* Unit tests for inodes.c on a real directory tree, without a mount. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "inodes.h"
#include "scratch.h"
#include "suites.h"

static char *tmp;
static struct sv_inode_table *table;

static void setup(void)
{
	int fd;

	tmp = sv_scratch_new("inodes");
	fd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	table = sv_inode_table_new(fd, 16);
	ck_assert_ptr_nonnull(table);
}

static void teardown(void)
{
	sv_inode_table_free(table);
	sv_scratch_free(tmp);
}

static struct sv_inode *lookup(struct sv_inode *parent, const char *name)
{
	int dirfd = sv_inode_get_dirfd(table, parent);
	struct stat st;

	ck_assert_int_ge(dirfd, 0);
	ck_assert_int_eq(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	sv_inode_put_dirfd(table, parent);
	return sv_inode_table_lookup(table, parent, name, &st);
}

static void counts(unsigned int *inodes, unsigned int *fds)
{
	sv_inode_table_counts(table, inodes, fds);
}

START_TEST(same_name_same_inode)
{
	g_autofree char *a = g_build_filename(tmp, "a", NULL);
	struct sv_inode *root = sv_inode_table_root(table);
	unsigned int n, fds;

	ck_assert(g_file_set_contents(a, "x", 1, NULL));
	struct sv_inode *first = lookup(root, "a");
	ck_assert_ptr_eq(lookup(root, "a"), first);
	ck_assert_uint_eq(first->refs, 2);
	counts(&n, &fds);
	ck_assert_uint_eq(n, 2);
	sv_inode_table_forget(table, first, 2);
	counts(&n, &fds);
	ck_assert_uint_eq(n, 1);	/* only the root is left */
}
END_TEST

/* Removing one name of a hard link must not break the inode of the other. */
START_TEST(each_name_of_a_hard_link_has_its_inode)
{
	g_autofree char *a = g_build_filename(tmp, "a", NULL);
	g_autofree char *b = g_build_filename(tmp, "b", NULL);
	struct sv_inode *root = sv_inode_table_root(table);
	unsigned int n, fds;
	int fd;

	ck_assert(g_file_set_contents(a, "x", 1, NULL));
	ck_assert_int_eq(link(a, b), 0);
	struct sv_inode *ia = lookup(root, "a");
	struct sv_inode *ib = lookup(root, "b");
	ck_assert_ptr_ne(ia, ib);
	ck_assert_str_eq(ib->name, "b");
	ck_assert_int_eq(unlink(a), 0);
	fd = sv_inode_get_readfd(table, ib);
	ck_assert_int_ge(fd, 0);
	sv_inode_put_dirfd(table, ib);
	ck_assert_int_eq(sv_inode_get_readfd(table, ia), -ENOENT);
	/* The newest name is found again; the superseded inode lives until forgotten. */
	ck_assert_ptr_eq(lookup(root, "b"), ib);
	counts(&n, &fds);
	ck_assert_uint_eq(n, 3);
	sv_inode_table_forget(table, ia, 1);
	sv_inode_table_forget(table, ib, 2);
	counts(&n, &fds);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(fds, 0);
}
END_TEST

/* A removed path's inode number given to a new file of another type. */
START_TEST(reused_number_of_another_type_is_a_new_inode)
{
	g_autofree char *d = g_build_filename(tmp, "d", NULL);
	struct sv_inode *root = sv_inode_table_root(table);
	struct stat st;
	int fd;

	ck_assert(g_file_set_contents(d, "x", 1, NULL));
	ck_assert_int_eq(stat(d, &st), 0);
	struct sv_inode *file = lookup(root, "d");
	/* As if a directory now had the file's number: */
	st.st_mode = S_IFDIR | 0755;
	struct sv_inode *dir = sv_inode_table_lookup(table, root, "d", &st);
	ck_assert_ptr_ne(dir, file);
	ck_assert(S_ISDIR(dir->mode));
	fd = sv_inode_get_readfd(table, file);
	ck_assert_int_ge(fd, 0);
	sv_inode_put_dirfd(table, file);
	sv_inode_table_forget(table, dir, 1);
	sv_inode_table_forget(table, file, 1);
}
END_TEST

START_TEST(refresh_takes_permissions_and_owner_not_type)
{
	g_autofree char *a = g_build_filename(tmp, "a", NULL);
	struct sv_inode *root = sv_inode_table_root(table);
	struct sv_inode *inode;
	struct stat st = { 0 };

	ck_assert(g_file_set_contents(a, "x", 1, NULL));
	ck_assert_int_eq(chmod(a, 0644), 0);
	inode = lookup(root, "a");
	ck_assert_uint_eq(inode->mode, S_IFREG | 0644);
	st.st_mode = S_IFDIR | 0600;
	st.st_uid = 12;
	st.st_gid = 34;
	sv_inode_refresh(inode, &st);
	ck_assert_uint_eq(inode->mode, S_IFREG | 0600);
	ck_assert_uint_eq(inode->uid, 12);
	ck_assert_uint_eq(inode->gid, 34);
	sv_inode_table_forget(table, inode, 1);
}
END_TEST

START_TEST(forget_frees_parents_kept_alive_by_children)
{
	g_autofree char *deep = g_build_filename(tmp, "d1", "d2", "d3", NULL);
	g_autofree char *file = g_build_filename(deep, "f", NULL);
	struct sv_inode *root = sv_inode_table_root(table);
	unsigned int n, fds;

	ck_assert_int_eq(g_mkdir_with_parents(deep, 0755), 0);
	ck_assert(g_file_set_contents(file, "x", 1, NULL));
	struct sv_inode *d1 = lookup(root, "d1");
	struct sv_inode *d2 = lookup(d1, "d2");
	struct sv_inode *d3 = lookup(d2, "d3");
	struct sv_inode *f = lookup(d3, "f");
	ck_assert_ptr_eq(f->parent, d3);
	/* The kernel forgets the directories first; the file keeps them alive. */
	sv_inode_table_forget(table, d1, 1);
	sv_inode_table_forget(table, d2, 1);
	sv_inode_table_forget(table, d3, 1);
	counts(&n, &fds);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(f->parent->parent->parent->name, "d1");
	sv_inode_table_forget(table, f, 1);
	counts(&n, &fds);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(fds, 0);
}
END_TEST

START_TEST(dir_fd_cache_is_bounded)
{
	struct sv_inode *root = sv_inode_table_root(table);
	struct sv_inode *dirs[100];
	unsigned int n, fds;

	for (int i = 0; i < 100; i++) {
		g_autofree char *name = g_strdup_printf("dir%d", i);
		g_autofree char *path = g_build_filename(tmp, name, "sub", NULL);

		ck_assert_int_eq(g_mkdir_with_parents(path, 0755), 0);
		dirs[i] = lookup(root, name);
		/* Reaching sub needs dir's fd. */
		lookup(dirs[i], "sub");
	}
	counts(&n, &fds);
	ck_assert_uint_eq(n, 201);
	ck_assert_uint_le(fds, 16);
	/* Evicted fds are reopened on demand. */
	int fd = sv_inode_get_dirfd(table, dirs[0]);
	ck_assert_int_ge(fd, 0);
	struct stat st;
	ck_assert_int_eq(fstatat(fd, "sub", &st, 0), 0);
	sv_inode_put_dirfd(table, dirs[0]);
}
END_TEST

START_TEST(renamed_directory_is_stale)
{
	g_autofree char *a = g_build_filename(tmp, "a", NULL);
	g_autofree char *b = g_build_filename(tmp, "b", NULL);
	g_autofree char *c = g_build_filename(tmp, "c", NULL);
	struct sv_inode *root = sv_inode_table_root(table);

	ck_assert_int_eq(mkdir(a, 0755), 0);
	ck_assert_int_eq(mkdir(c, 0755), 0);
	struct sv_inode *ia = lookup(root, "a");
	ck_assert_int_eq(rename(a, b), 0);
	ck_assert_int_eq(sv_inode_get_dirfd(table, ia), -ENOENT);
	/* Another directory now under the old name is not this inode. */
	ck_assert_int_eq(rename(c, a), 0);
	ck_assert_int_eq(sv_inode_get_dirfd(table, ia), -ESTALE);
}
END_TEST

START_TEST(symlink_to_directory_is_not_followed)
{
	g_autofree char *real = g_build_filename(tmp, "real", NULL);
	g_autofree char *link = g_build_filename(tmp, "link", NULL);
	struct sv_inode *root = sv_inode_table_root(table);

	ck_assert_int_eq(mkdir(real, 0755), 0);
	ck_assert_int_eq(symlink("/", link), 0);
	struct sv_inode *il = lookup(root, "link");
	ck_assert(S_ISLNK(il->mode));
	ck_assert_int_eq(sv_inode_get_dirfd(table, il), -ENOTDIR);
}
END_TEST

/* Node ids count up from the root's, and a forgotten one is never given again. */
START_TEST(ids_are_counted_never_reused)
{
	g_autofree char *a = g_build_filename(tmp, "a", NULL);
	struct sv_inode *root = sv_inode_table_root(table);

	ck_assert_uint_eq(root->id, 1);
	ck_assert_ptr_eq(sv_inode_table_find(table, 1), root);
	ck_assert(g_file_set_contents(a, "x", 1, NULL));
	struct sv_inode *first = lookup(root, "a");
	uint64_t id = first->id;

	ck_assert_uint_eq(id, 2);
	ck_assert_ptr_eq(sv_inode_table_find(table, id), first);
	sv_inode_table_forget(table, first, 1);
	struct sv_inode *again = lookup(root, "a");

	ck_assert_uint_eq(again->id, 3);
	ck_assert_uint_eq(sv_inode_table_find(table, id)->id, 0);
	ck_assert_ptr_eq(sv_inode_table_find(table, 3), again);
	sv_inode_table_forget(table, again, 1);
}
END_TEST

/* An id the table never gave, or gave and forgot, reaches nothing. */
START_TEST(unknown_id_is_refused)
{
	g_autofree char *d = g_build_filename(tmp, "d", NULL);
	struct sv_inode *root = sv_inode_table_root(table);
	unsigned int n, fds;

	ck_assert_int_eq(mkdir(d, 0755), 0);
	struct sv_inode *dir = lookup(root, "d");
	uint64_t ids[] = { 0, dir->id + 1, (uint64_t)(uintptr_t)dir, UINT64_MAX };

	for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
		struct sv_inode *unknown = sv_inode_table_find(table, ids[i]);

		ck_assert_uint_eq(unknown->id, 0);
		ck_assert_int_eq(sv_inode_get_dirfd(table, unknown), -ESTALE);
		ck_assert_int_eq(sv_inode_get_readfd(table, unknown), -ESTALE);
		sv_inode_table_forget(table, unknown, 1);
	}
	counts(&n, &fds);
	ck_assert_uint_eq(n, 2);
	sv_inode_table_forget(table, dir, 1);
}
END_TEST

static const char *hidden_name;

static bool shown(void *data, const char *name)
{
	return !hidden_name || strcmp(name, hidden_name) != 0;
}

/* A top-level entry the filter stops showing refuses everything below it, until shown again. */
START_TEST(refilter_refuses_below_a_hidden_entry)
{
	g_autofree char *sub = g_build_filename(tmp, "a", "sub", NULL);
	g_autofree char *f = g_build_filename(tmp, "a", "sub", "f", NULL);
	g_autofree char *b = g_build_filename(tmp, "b", NULL);
	struct sv_inode *root = sv_inode_table_root(table);
	g_autoptr(GArray) none = NULL, revoked = NULL, again = NULL;

	ck_assert_int_eq(g_mkdir_with_parents(sub, 0755), 0);
	ck_assert_int_eq(mkdir(b, 0755), 0);
	ck_assert(g_file_set_contents(f, "x", 1, NULL));
	hidden_name = NULL;
	sv_inode_table_set_filter(table, shown, NULL);
	struct sv_inode *ia = lookup(root, "a"), *isub = lookup(ia, "sub"), *ifile = lookup(isub, "f");
	struct sv_inode *ib = lookup(root, "b");

	none = sv_inode_table_refilter(table);
	ck_assert_uint_eq(none->len, 0);
	hidden_name = "a";
	revoked = sv_inode_table_refilter(table);
	ck_assert_uint_eq(revoked->len, 3);
	for (guint i = 0; i < revoked->len; i++) {
		const struct sv_inode_entry *e = &g_array_index(revoked, struct sv_inode_entry, i);

		if (e->id == ia->id)
			ck_assert(e->parent_id == root->id && strcmp(e->name, "a") == 0);
		else if (e->id == isub->id)
			ck_assert(e->parent_id == ia->id && strcmp(e->name, "sub") == 0);
		else
			ck_assert(e->id == ifile->id && e->parent_id == isub->id);
	}
	ck_assert_int_eq(sv_inode_refused(ia), -ENOENT);
	ck_assert_int_eq(sv_inode_get_dirfd(table, isub), -ENOENT);
	ck_assert_int_eq(sv_inode_get_readfd(table, ifile), -ENOENT);
	ck_assert_int_eq(sv_inode_refused(ib), 0);
	ck_assert_int_eq(sv_inode_refused(root), 0);
	/* Shown again: reachable again, and nothing to forget. */
	hidden_name = "b";
	again = sv_inode_table_refilter(table);
	ck_assert_uint_eq(again->len, 1);
	ck_assert_int_ge(sv_inode_get_readfd(table, ifile), 0);
	sv_inode_put_dirfd(table, ifile);
	ck_assert_int_eq(sv_inode_get_dirfd(table, ib), -ENOENT);
	sv_inode_table_forget(table, ib, 1);
	/* Made while hidden: refused from the start. */
	ib = lookup(root, "b");
	ck_assert_int_eq(sv_inode_refused(ib), -ENOENT);
	sv_inode_table_forget(table, ib, 1);
	sv_inode_table_forget(table, ifile, 1);
	sv_inode_table_forget(table, isub, 1);
	sv_inode_table_forget(table, ia, 1);
}
END_TEST

/* A store path moved away while held: refused below, until its name leads to it again. */
START_TEST(recheck_refuses_below_a_moved_entry)
{
	g_autofree char *m = g_build_filename(tmp, "m", NULL);
	g_autofree char *d = g_build_filename(tmp, "m", "d", NULL);
	g_autofree char *away = g_build_filename(tmp, "away", NULL);
	struct sv_inode *root = sv_inode_table_root(table);
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	g_autoptr(GArray) gone = NULL, back = NULL;

	ck_assert_int_eq(g_mkdir_with_parents(d, 0755), 0);
	struct sv_inode *im = lookup(root, "m"), *id = lookup(im, "d");

	/* Its fd cached, as while a client works in it. */
	ck_assert_int_ge(sv_inode_get_dirfd(table, id), 0);
	sv_inode_put_dirfd(table, id);
	ck_assert_int_eq(rename(m, away), 0);
	g_ptr_array_add(names, "m");
	gone = sv_inode_table_recheck(table, names);
	ck_assert_uint_eq(gone->len, 2);
	ck_assert_int_eq(sv_inode_get_dirfd(table, id), -ESTALE);
	ck_assert_int_eq(sv_inode_refused(im), -ESTALE);
	ck_assert_int_eq(rename(away, m), 0);
	back = sv_inode_table_recheck(table, names);
	ck_assert_uint_eq(back->len, 0);
	ck_assert_int_ge(sv_inode_get_dirfd(table, id), 0);
	sv_inode_put_dirfd(table, id);
	sv_inode_table_forget(table, id, 1);
	sv_inode_table_forget(table, im, 1);
}
END_TEST

/* A directory moved from below a store path while its fd is cached: refused once the fd's trust runs out. */
START_TEST(cached_fd_of_a_moved_directory_is_stale)
{
	g_autofree char *d = g_build_filename(tmp, "p", "a", "d", NULL);
	g_autofree char *a = g_build_filename(tmp, "p", "a", NULL);
	g_autofree char *away = g_build_filename(tmp, "away", NULL);
	struct sv_inode *root = sv_inode_table_root(table);

	ck_assert_int_eq(g_mkdir_with_parents(d, 0755), 0);
	struct sv_inode *ip = lookup(root, "p"), *ia = lookup(ip, "a"), *id = lookup(ia, "d");

	ck_assert_int_ge(sv_inode_get_dirfd(table, id), 0);
	sv_inode_put_dirfd(table, id);
	/* An ancestor between the top level and the held directory moves. */
	ck_assert_int_eq(rename(a, away), 0);
	g_usleep(1100 * 1000);
	ck_assert_int_eq(sv_inode_get_dirfd(table, id), -ESTALE);
	ck_assert_int_eq(rename(away, a), 0);
	ck_assert_int_ge(sv_inode_get_dirfd(table, id), 0);
	sv_inode_put_dirfd(table, id);
	sv_inode_table_forget(table, id, 1);
	sv_inode_table_forget(table, ia, 1);
	sv_inode_table_forget(table, ip, 1);
}
END_TEST

Suite *inodes_suite(void)
{
	Suite *s = suite_create("inodes");
	TCase *tc = tcase_create("inodes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, same_name_same_inode);
	tcase_add_test(tc, each_name_of_a_hard_link_has_its_inode);
	tcase_add_test(tc, reused_number_of_another_type_is_a_new_inode);
	tcase_add_test(tc, refresh_takes_permissions_and_owner_not_type);
	tcase_add_test(tc, forget_frees_parents_kept_alive_by_children);
	tcase_add_test(tc, dir_fd_cache_is_bounded);
	tcase_add_test(tc, renamed_directory_is_stale);
	tcase_add_test(tc, symlink_to_directory_is_not_followed);
	tcase_add_test(tc, ids_are_counted_never_reused);
	tcase_add_test(tc, unknown_id_is_refused);
	tcase_add_test(tc, refilter_refuses_below_a_hidden_entry);
	tcase_add_test(tc, recheck_refuses_below_a_moved_entry);
	tcase_add_test(tc, cached_fd_of_a_moved_directory_is_stale);
	suite_add_tcase(s, tc);
	return s;
}
