/* Unit tests for prefetch.c on a real directory tree, without a mount. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <check.h>
#include <glib.h>

#include "prefetch.h"
#include "scratch.h"
#include "suites.h"

static char *tmp;

static void setup(void)
{
	tmp = sv_scratch_new("prefetch");
	for (const char *const *d = (const char *const[]){ "a", "b", "b/c", NULL }; *d; d++) {
		g_autofree char *path = g_build_filename(tmp, *d, NULL);

		ck_assert_int_eq(mkdir(path, 0755), 0);
	}
	g_autofree char *file = g_build_filename(tmp, "a", "file", NULL);
	ck_assert(g_file_set_contents(file, "x", 1, NULL));
	g_autofree char *link = g_build_filename(tmp, "link", NULL);
	ck_assert_int_eq(symlink("a", link), 0);
}

static void teardown(void)
{
	sv_scratch_free(tmp);
}

static unsigned int open_fds(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	unsigned int n = 0;

	ck_assert_ptr_nonnull(dir);
	while (g_dir_read_name(dir))
		n++;
	return n;
}

static GPtrArray *names(const char *first, ...)
{
	GPtrArray *array = g_ptr_array_new_with_free_func(g_free);
	va_list ap;

	va_start(ap, first);
	for (const char *n = first; n; n = va_arg(ap, const char *))
		g_ptr_array_add(array, g_strdup(n));
	va_end(ap);
	return array;
}

static DIR *open_tmp(void)
{
	DIR *dir = opendir(tmp);

	ck_assert_ptr_nonnull(dir);
	return dir;
}

/* Waits up to 5 s for count directories read. */
static unsigned long wait_count(struct sv_prefetch *pf, unsigned long count)
{
	for (int i = 0; i < 500 && sv_prefetch_count(pf) < count; i++)
		g_usleep(10000);
	return sv_prefetch_count(pf);
}

START_TEST(reads_directories_not_symlinks_nor_missing_names)
{
	struct sv_prefetch *pf = sv_prefetch_new(NULL);

	ck_assert_ptr_nonnull(pf);
	sv_prefetch_queue(pf, open_tmp(), names("link", "missing", "a", "b", NULL));
	ck_assert_uint_eq(wait_count(pf, 2), 2);
	/* Nothing more comes: the symlink to a is not followed. */
	g_usleep(100000);
	ck_assert_uint_eq(sv_prefetch_count(pf), 2);
	sv_prefetch_free(pf);
}
END_TEST

START_TEST(every_fd_is_closed_whatever_was_queued)
{
	unsigned int before = open_fds();
	struct sv_prefetch *pf = sv_prefetch_new(NULL);

	ck_assert_ptr_nonnull(pf);
	/* Far more than the queue takes: the rest is dropped at once. */
	for (int i = 0; i < 1000; i++)
		sv_prefetch_queue(pf, open_tmp(), names("a", "b", NULL));
	sv_prefetch_queue(pf, open_tmp(), names(NULL, NULL));
	ck_assert_uint_le(open_fds(), before + 100);
	sv_prefetch_free(pf);
	ck_assert_uint_eq(open_fds(), before);
}
END_TEST

Suite *prefetch_suite(void)
{
	Suite *s = suite_create("prefetch");
	TCase *tc = tcase_create("prefetch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reads_directories_not_symlinks_nor_missing_names);
	tcase_add_test(tc, every_fd_is_closed_whatever_was_queued);
	suite_add_tcase(s, tc);
	return s;
}
