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

static void make_dirs(const char *first, ...)
{
	va_list ap;

	va_start(ap, first);
	for (const char *d = first; d; d = va_arg(ap, const char *)) {
		g_autofree char *path = g_build_filename(tmp, d, NULL);

		ck_assert_int_eq(mkdir(path, 0755), 0);
	}
	va_end(ap);
}

static void setup(void)
{
	tmp = sv_scratch_new("prefetch");
	make_dirs("a", "b", "b/c", NULL);
	g_autofree char *file = g_build_filename(tmp, "a", "file", NULL);
	ck_assert(g_file_set_contents(file, "xyz", 3, NULL));
	g_autofree char *link = g_build_filename(tmp, "link", NULL);
	ck_assert_int_eq(symlink("a", link), 0);
}

static void teardown(void)
{
	sv_scratch_free(tmp);
}

static struct stat lstat_of(const char *relative)
{
	g_autofree char *path = g_build_filename(tmp, relative, NULL);
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	return st;
}

/* What the view would hand over after listing dir (relative to tmp) itself. */
static void walker_missed(struct sv_prefetch *pf, const char *dir, const char *first, ...)
{
	g_autofree char *path = g_build_filename(tmp, dir, NULL);
	GArray *subdirs = sv_subdirs_new();
	struct stat st = lstat_of(dir);
	DIR *dp = opendir(path);
	va_list ap;

	ck_assert_ptr_nonnull(dp);
	va_start(ap, first);
	for (const char *n = first; n; n = va_arg(ap, const char *)) {
		g_autofree char *sub = g_build_filename(dir, n, NULL);
		g_autofree char *subpath = g_build_filename(tmp, sub, NULL);
		struct stat sub_st;

		sv_subdirs_add(subdirs, n, lstat(subpath, &sub_st) == 0 ? sub_st.st_ino : 0);
	}
	va_end(ap);
	sv_prefetch_missed(pf, st.st_dev, st.st_ino, dp, false, 0, subdirs);
}

/* Far beyond any walk here, even under load: a hung thread, not a slow one. */
#define PATIENCE (60 * G_TIME_SPAN_SECOND)

/* Listings read once the thread has nothing left that it may read. */
static unsigned long idle_count(struct sv_prefetch *pf)
{
	gint64 deadline = g_get_monotonic_time() + PATIENCE;

	while (!sv_prefetch_idle(pf) && g_get_monotonic_time() < deadline)
		g_usleep(10 * 1000);
	ck_assert_msg(sv_prefetch_idle(pf), "the thread still reads after 60 s");
	return sv_prefetch_count(pf);
}

static struct sv_listing *find(struct sv_prefetch *pf, const char *dir, off_t offset,
			       unsigned int *next)
{
	struct stat st = lstat_of(dir);

	return sv_prefetch_find(pf, st.st_dev, st.st_ino, offset, next);
}

static const struct sv_listing_entry *entry_named(const struct sv_listing *listing,
						  const char *name)
{
	for (unsigned int i = 0; i < listing->count; i++)
		if (!strcmp(listing->entries[i].name, name))
			return &listing->entries[i];
	return NULL;
}

START_TEST(reads_subdirectories_to_the_bottom_not_symlinks_nor_missing_names)
{
	struct sv_prefetch *pf = sv_prefetch_new(NULL);

	ck_assert_ptr_nonnull(pf);
	walker_missed(pf, ".", "link", "missing", "a", "b", NULL);
	/* a, b and b/c; nothing more comes: the symlink to a is not followed. */
	ck_assert_uint_eq(idle_count(pf), 3);
	sv_prefetch_free(pf);
}
END_TEST

START_TEST(a_listing_holds_every_entry_and_its_lstat)
{
	struct sv_prefetch *pf = sv_prefetch_new(NULL);
	struct stat file = lstat_of("a/file"), a = lstat_of("a");
	const struct sv_listing_entry *e;
	struct sv_listing *listing;
	unsigned int next = 99;

	ck_assert_ptr_nonnull(pf);
	walker_missed(pf, ".", "a", "b", NULL);
	ck_assert_uint_eq(idle_count(pf), 3);
	listing = find(pf, "a", 0, &next);
	ck_assert_ptr_nonnull(listing);
	ck_assert_uint_eq(next, 0);
	ck_assert(listing->complete);
	ck_assert_uint_eq(listing->count, 3);
	ck_assert_uint_eq(listing->ino, a.st_ino);
	ck_assert_int_eq(listing->mtime.tv_nsec, a.st_mtim.tv_nsec);
	e = entry_named(listing, "file");
	ck_assert_ptr_nonnull(e);
	ck_assert(!e->vanished);
	ck_assert_uint_eq(e->st.st_ino, file.st_ino);
	ck_assert_int_eq(e->st.st_size, 3);
	ck_assert_ptr_nonnull(entry_named(listing, "."));
	ck_assert_ptr_nonnull(entry_named(listing, ".."));
	sv_listing_unref(listing);
	/* b/c is empty but for its dots. */
	listing = find(pf, "b/c", 0, &next);
	ck_assert_ptr_nonnull(listing);
	ck_assert_uint_eq(listing->count, 2);
	sv_listing_unref(listing);
	sv_prefetch_free(pf);
}
END_TEST

START_TEST(a_listing_goes_on_after_each_of_its_entries)
{
	struct sv_prefetch *pf = sv_prefetch_new(NULL);
	struct sv_listing *listing, *again;
	unsigned int next;

	ck_assert_ptr_nonnull(pf);
	walker_missed(pf, ".", "a", NULL);
	ck_assert_uint_eq(idle_count(pf), 1);
	listing = find(pf, "a", 0, &next);
	ck_assert_ptr_nonnull(listing);
	for (unsigned int i = 0; i < listing->count; i++) {
		again = find(pf, "a", listing->entries[i].next_offset, &next);
		ck_assert_ptr_eq(again, listing);
		/* After the last entry: none left, the end of the directory. */
		ck_assert_uint_eq(next, i + 1);
		sv_listing_unref(again);
	}
	ck_assert_ptr_null(find(pf, "a", 12345, &next));
	/* Listed to its end: gone. */
	sv_prefetch_used(pf, listing);
	ck_assert_ptr_null(find(pf, "a", 0, &next));
	sv_listing_unref(listing);
	sv_prefetch_free(pf);
}
END_TEST

/*
 * Makes dir with files empty files, has it read ahead and returns its two
 * listings: the first full, the second, complete, going on after it.
 */
static void read_in_two(struct sv_prefetch *pf, const char *dir, unsigned int files,
			struct sv_listing **first, struct sv_listing **second)
{
	unsigned int next;

	make_dirs(dir, NULL);
	for (unsigned int i = 0; i < files; i++) {
		g_autofree char *path = g_strdup_printf("%s/%s/f%u", tmp, dir, i);

		ck_assert(g_file_set_contents(path, "", 0, NULL));
	}
	walker_missed(pf, ".", dir, NULL);
	ck_assert_uint_eq(idle_count(pf), 2);
	*first = find(pf, dir, 0, &next);
	ck_assert_ptr_nonnull(*first);
	ck_assert(!(*first)->complete);
	ck_assert_uint_eq((*first)->count, SV_PREFETCH_MAX_ENTRIES);
	*second = find(pf, dir, (*first)->entries[(*first)->count - 1].next_offset, &next);
	ck_assert_ptr_nonnull(*second);
	ck_assert_ptr_ne(*second, *first);
	ck_assert_uint_eq(next, 0);
	ck_assert((*second)->complete);
}

START_TEST(a_huge_directory_comes_in_several_listings)
{
	unsigned int files = SV_PREFETCH_MAX_ENTRIES + 500, seen = 0;
	struct sv_prefetch *pf = sv_prefetch_new(NULL);
	struct sv_listing *first, *second;

	ck_assert_ptr_nonnull(pf);
	read_in_two(pf, "huge", files, &first, &second);
	ck_assert_uint_eq(first->count + second->count, files + 2);
	for (unsigned int i = 0; i < first->count; i++)
		seen += first->entries[i].name[0] == 'f';
	for (unsigned int i = 0; i < second->count; i++)
		seen += second->entries[i].name[0] == 'f';
	ck_assert_uint_eq(seen, files);
	sv_listing_unref(first);
	sv_listing_unref(second);
	sv_prefetch_free(pf);
}
END_TEST

START_TEST(a_directory_that_fills_listings_exactly_ends_with_an_empty_one)
{
	struct sv_prefetch *pf = sv_prefetch_new(NULL);
	struct sv_listing *first, *last;

	ck_assert_ptr_nonnull(pf);
	/* With . and .., the first listing is full and the directory's end unseen. */
	read_in_two(pf, "full", SV_PREFETCH_MAX_ENTRIES - 2, &first, &last);
	ck_assert_uint_eq(last->count, 0);
	sv_listing_unref(first);
	sv_listing_unref(last);
	sv_prefetch_free(pf);
}
END_TEST

START_TEST(stays_a_bounded_number_of_listings_ahead)
{
	struct sv_prefetch *pf = sv_prefetch_new(NULL);
	struct sv_listing *listing;
	g_autoptr(GArray) names = g_array_new(FALSE, FALSE, sizeof(char *));
	GArray *subdirs = sv_subdirs_new();
	unsigned int next;

	ck_assert_ptr_nonnull(pf);
	make_dirs("wide", NULL);
	for (unsigned int i = 0; i < SV_PREFETCH_MAX_READY + 10; i++) {
		g_autofree char *path = g_strdup_printf("%s/wide/d%u", tmp, i);
		g_autofree char *name = g_strdup_printf("d%u", i);
		struct stat st;

		ck_assert_int_eq(mkdir(path, 0755), 0);
		ck_assert_int_eq(lstat(path, &st), 0);
		sv_subdirs_add(subdirs, name, st.st_ino);
	}
	{
		g_autofree char *path = g_build_filename(tmp, "wide", NULL);
		struct stat st = lstat_of("wide");

		sv_prefetch_missed(pf, st.st_dev, st.st_ino, opendir(path), false, 0, subdirs);
	}
	ck_assert_uint_eq(idle_count(pf), SV_PREFETCH_MAX_READY);
	/* The walker lists d0 from what was read: room for one more. */
	listing = find(pf, "wide/d0", 0, &next);
	ck_assert_ptr_nonnull(listing);
	sv_prefetch_used(pf, listing);
	sv_listing_unref(listing);
	ck_assert_uint_eq(idle_count(pf), SV_PREFETCH_MAX_READY + 1);
	sv_prefetch_free(pf);
}
END_TEST

START_TEST(a_walker_gone_elsewhere_leaves_nothing_ready)
{
	struct sv_prefetch *pf = sv_prefetch_new(NULL);
	struct sv_listing *listing;
	unsigned int next;

	ck_assert_ptr_nonnull(pf);
	make_dirs("x", "x/y", NULL);
	walker_missed(pf, ".", "a", "b", NULL);
	ck_assert_uint_eq(idle_count(pf), 3);
	/* A miss on what was read ahead is a race the walker won: nothing changes. */
	walker_missed(pf, "b", "c", NULL);
	listing = find(pf, "b/c", 0, &next);
	ck_assert_ptr_nonnull(listing);
	sv_listing_unref(listing);
	/* A miss with nothing below to read changes nothing either. */
	walker_missed(pf, "x/y", NULL);
	listing = find(pf, "a", 0, &next);
	ck_assert_ptr_nonnull(listing);
	sv_listing_unref(listing);
	walker_missed(pf, "x", "y", NULL);
	ck_assert_ptr_null(find(pf, "a", 0, &next));
	ck_assert_ptr_null(find(pf, "b/c", 0, &next));
	/* Back: read again (after x/y). */
	ck_assert_uint_eq(idle_count(pf), 4);
	walker_missed(pf, ".", "b", NULL);
	ck_assert_uint_eq(idle_count(pf), 6);
	listing = find(pf, "b/c", 0, &next);
	ck_assert_ptr_nonnull(listing);
	sv_listing_unref(listing);
	sv_prefetch_free(pf);
}
END_TEST

START_TEST(every_fd_is_closed_whatever_was_pending)
{
	unsigned int before = sv_open_fds();
	struct sv_prefetch *pf = sv_prefetch_new(NULL);

	ck_assert_ptr_nonnull(pf);
	for (int i = 0; i < 1000; i++)
		walker_missed(pf, ".", "a", "b", NULL);
	walker_missed(pf, "b", NULL);
	ck_assert_uint_le(sv_open_fds(), before + 100);
	sv_prefetch_free(pf);
	ck_assert_uint_eq(sv_open_fds(), before);
}
END_TEST

Suite *prefetch_suite(void)
{
	Suite *s = suite_create("prefetch");
	TCase *tc = tcase_create("prefetch");

	/* The checks wait for a thread doing real I/O, with bounds of their own. */
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reads_subdirectories_to_the_bottom_not_symlinks_nor_missing_names);
	tcase_add_test(tc, a_listing_holds_every_entry_and_its_lstat);
	tcase_add_test(tc, a_listing_goes_on_after_each_of_its_entries);
	tcase_add_test(tc, a_huge_directory_comes_in_several_listings);
	tcase_add_test(tc, a_directory_that_fills_listings_exactly_ends_with_an_empty_one);
	tcase_add_test(tc, stays_a_bounded_number_of_listings_ahead);
	tcase_add_test(tc, a_walker_gone_elsewhere_leaves_nothing_ready);
	tcase_add_test(tc, every_fd_is_closed_whatever_was_pending);
	suite_add_tcase(s, tc);
	return s;
}
