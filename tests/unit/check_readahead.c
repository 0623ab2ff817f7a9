/* Unit tests for readahead.c on real files, without a mount. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <check.h>
#include <glib.h>

#include "readahead.h"
#include "scratch.h"
#include "suites.h"

#define SMALL_SIZE (16 * 1024)

static char *tmp;
/* Mappings of SMALL_SIZE files, see pin. */
static GPtrArray *pinned;

static char *path_of(const char *relative)
{
	return g_build_filename(tmp, relative, NULL);
}

static void make_file(const char *relative, size_t size)
{
	g_autofree char *path = path_of(relative);
	g_autofree char *data = g_malloc(size);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	ck_assert_int_ge(fd, 0);
	for (size_t i = 0; i < size; i++)
		data[i] = (char)g_random_int();
	ck_assert_int_eq(write(fd, data, size), (ssize_t)size);
	ck_assert_int_eq(fsync(fd), 0);
	ck_assert_int_eq(close(fd), 0);
}

/* Pages of the file in the page cache. */
static size_t resident_pages(const char *relative)
{
	g_autofree char *path = path_of(relative);
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages, resident = 0;
	int fd = open(path, O_RDONLY);
	unsigned char *vec;
	struct stat st;
	void *map;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	pages = ((size_t)st.st_size + page - 1) / page;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	vec = g_malloc(pages);
	ck_assert_int_eq(mincore(map, (size_t)st.st_size, vec), 0);
	for (size_t i = 0; i < pages; i++)
		resident += vec[i] & 1;
	g_free(vec);
	munmap(map, (size_t)st.st_size);
	close(fd);
	return resident;
}

/* Drops the file's pages; false where the filesystem keeps them (tmpfs). */
static bool evict(const char *relative)
{
	g_autofree char *path = path_of(relative);
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
	return resident_pages(relative) == 0;
}

/* Where pages cannot be dropped, a check cannot see what was read ahead. */
static void say_no_eviction(void)
{
	fprintf(stderr, "SKIP: %s keeps file pages in memory\n", tmp);
}

/*
 * Keeps a SMALL_SIZE file's pages in memory until teardown, so that what
 * the walk finds in memory stays there: drop_caches (tests/bench runs it)
 * leaves mapped pages, reclaim locked ones.
 */
static void pin(const char *relative)
{
	g_autofree char *path = path_of(relative);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int fd = open(path, O_RDONLY);
	void *map;

	ck_assert_int_ge(fd, 0);
	map = mmap(NULL, SMALL_SIZE, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	close(fd);
	/* Where RLIMIT_MEMLOCK allows; mapped is enough against drop_caches. */
	(void)mlock(map, SMALL_SIZE);
	g_ptr_array_add(pinned, map);
	ck_assert_uint_eq(resident_pages(relative), (SMALL_SIZE + page - 1) / page);
}

static int open_dir(const char *relative)
{
	g_autofree char *path = path_of(relative);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* What the view hands over: dir and those above it up to store, open. */
static void start(struct sv_readahead *ra, const char *dir, const char *store)
{
	g_autofree char *path = path_of(store);
	g_autofree char *up = g_strdup(dir);
	GArray *dir_fds = g_array_new(FALSE, FALSE, sizeof(int));
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	for (;;) {
		int fd = open_dir(up);
		char *parent;

		g_array_append_val(dir_fds, fd);
		if (!strcmp(up, store))
			break;
		parent = g_path_get_dirname(up);
		g_free(up);
		up = parent;
	}
	sv_readahead_start(ra, dir_fds, st.st_dev, st.st_ino);
}

/* Far beyond any walk here, even under load: a hung thread, not a slow one. */
#define PATIENCE (60 * G_TIME_SPAN_SECOND)

/* The count once the thread waits with nothing left to do. */
static unsigned long idle_count(struct sv_readahead *ra)
{
	gint64 deadline = g_get_monotonic_time() + PATIENCE;

	while (!sv_readahead_idle(ra) && g_get_monotonic_time() < deadline)
		g_usleep(10 * 1000);
	ck_assert_msg(sv_readahead_idle(ra), "the walk still goes on after 60 s");
	return sv_readahead_count(ra);
}

/*
 * readahead(2) only starts the reads, and is a hint: under load the kernel
 * has left files passed to it with some of their pages, or none (seen in
 * readahead.sh), so some pages in any of files (NULL-ended) are the proof.
 */
static bool wait_read_ahead(char **files)
{
	gint64 deadline = g_get_monotonic_time() + PATIENCE;

	do {
		for (char **f = files; *f; f++)
			if (resident_pages(*f) > 0)
				return true;
		g_usleep(10 * 1000);
	} while (g_get_monotonic_time() < deadline);
	return false;
}

/* The names in dir, in listing order. */
static GPtrArray *listing_of(const char *relative)
{
	g_autofree char *path = path_of(relative);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	DIR *dir = opendir(path);
	struct dirent *entry;

	ck_assert_ptr_nonnull(dir);
	while ((entry = readdir(dir)))
		if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
			g_ptr_array_add(names, g_strdup(entry->d_name));
	closedir(dir);
	return names;
}

static void unpin(gpointer map)
{
	munmap(map, SMALL_SIZE);
}

static void setup(void)
{
	tmp = sv_scratch_new("readahead");
	pinned = g_ptr_array_new_with_free_func(unpin);
}

static void teardown(void)
{
	g_ptr_array_free(pinned, TRUE);
	sv_scratch_free(tmp);
}

static void make_dir(const char *relative)
{
	g_autofree char *path = path_of(relative);

	ck_assert_int_eq(mkdir(path, 0755), 0);
}

START_TEST(goes_on_as_a_depth_first_reader_within_the_store_path)
{
	g_autoptr(GPtrArray) dirs = NULL;
	g_autoptr(GPtrArray) ahead = g_ptr_array_new_with_free_func(g_free);
	struct sv_readahead *ra;

	make_dir("store");
	make_dir("other");
	make_file("other/x", SMALL_SIZE);
	for (int i = 0; i < 4; i++) {
		g_autofree char *d = g_strdup_printf("store/d%d", i);
		g_autofree char *sub = g_strdup_printf("store/d%d/sub", i);
		g_autofree char *f = g_strdup_printf("store/d%d/f", i);
		g_autofree char *g = g_strdup_printf("store/d%d/sub/g", i);

		make_dir(d);
		make_dir(sub);
		make_file(f, SMALL_SIZE);
		make_file(g, SMALL_SIZE);
	}
	/* The reader starts in the second directory in listing order. */
	dirs = listing_of("store");
	g_autofree char *first = g_build_filename("store", dirs->pdata[1], NULL);
	g_autofree char *large = g_build_filename(first, "large", NULL);
	g_autofree char *empty = g_build_filename(first, "empty", NULL);
	make_file(large, SV_READAHEAD_MAX_FILE_SIZE + 4096);
	make_file(empty, 0);
	g_autofree char *fifo = g_build_filename(tmp, first, "fifo", NULL);
	g_autofree char *link = g_build_filename(tmp, first, "link", NULL);
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	ck_assert_int_eq(symlink("../../other/x", link), 0);
	if (!evict("other/x")) {
		say_no_eviction();
		return;
	}
	ck_assert(evict(large));
	for (guint i = 0; i < dirs->len; i++) {
		g_autofree char *f = g_strdup_printf("store/%s/f", (char *)dirs->pdata[i]);
		g_autofree char *g = g_strdup_printf("store/%s/sub/g", (char *)dirs->pdata[i]);

		ck_assert(evict(f) && evict(g));
	}

	ra = sv_readahead_new(NULL);
	ck_assert_ptr_nonnull(ra);
	start(ra, first, "store");
	ck_assert_uint_eq(idle_count(ra), 2 * (dirs->len - 1));
	for (guint i = 0; i < dirs->len; i++) {
		g_autofree char *f = g_strdup_printf("store/%s/f", (char *)dirs->pdata[i]);
		g_autofree char *g = g_strdup_printf("store/%s/sub/g", (char *)dirs->pdata[i]);

		/* Not what a reader starting there had passed. */
		if (i == 0) {
			ck_assert_msg(resident_pages(f) == 0 && resident_pages(g) == 0,
				      "%s: read ahead, though the reader had passed it", f);
		} else {
			g_ptr_array_add(ahead, g_steal_pointer(&f));
			g_ptr_array_add(ahead, g_steal_pointer(&g));
		}
	}
	g_ptr_array_add(ahead, NULL);
	ck_assert_msg(wait_read_ahead((char **)ahead->pdata), "no page of the files after the first read ahead");
	/* Not a large file, nor through a symlink, nor another store path. */
	ck_assert_uint_eq(resident_pages(large), 0);
	ck_assert_uint_eq(resident_pages("other/x"), 0);
	sv_readahead_free(ra);
	ck_assert_uint_eq(sv_readahead_count(NULL), 0);
}
END_TEST

START_TEST(stays_within_the_window_and_moves_to_another_store_path)
{
	unsigned int window_files = SV_READAHEAD_WINDOW / SV_READAHEAD_MAX_FILE_SIZE;
	g_autofree char *store = NULL;
	struct sv_readahead *ra;
	struct stat st;

	make_dir("store");
	make_dir("store/d");
	make_dir("other");
	make_dir("other/d");
	store = path_of("store");
	make_file("other/d/x", SMALL_SIZE);
	for (unsigned int i = 0; i < window_files + 8; i++) {
		g_autofree char *name = g_strdup_printf("store/d/%02u", i);

		make_file(name, SV_READAHEAD_MAX_FILE_SIZE);
		if (!evict(name)) {
			say_no_eviction();
			return;
		}
	}
	ck_assert(evict("other/d/x"));
	ra = sv_readahead_new(NULL);
	ck_assert_ptr_nonnull(ra);
	start(ra, "store/d", "store");
	ck_assert_uint_eq(idle_count(ra), window_files);
	/* Reading moves the window on. */
	sv_readahead_consumed(ra, 4 * SV_READAHEAD_MAX_FILE_SIZE);
	ck_assert_uint_eq(idle_count(ra), window_files + 4);
	/* A start in the same store path changes nothing. */
	start(ra, "store", "store");
	ck_assert_uint_eq(idle_count(ra), window_files + 4);
	ck_assert_int_eq(stat(store, &st), 0);
	ck_assert(sv_readahead_in(ra, st.st_dev, st.st_ino));
	/* A start elsewhere moves the walk there, with a fresh window. */
	start(ra, "other/d", "other");
	ck_assert_uint_eq(idle_count(ra), window_files + 5);
	ck_assert(!sv_readahead_in(ra, st.st_dev, st.st_ino));
	sv_readahead_free(ra);
}
END_TEST

/*
 * Makes store/ with cached files in memory (pinned), then 16 that are not,
 * in listing order; false if pages cannot be dropped here.
 */
static bool make_warm_store(const char *store, unsigned int cached)
{
	g_autofree char *dir = g_build_filename(store, "d", NULL);
	g_autoptr(GPtrArray) names = NULL;

	make_dir(store);
	make_dir(dir);
	for (unsigned int i = 0; i < cached + 16; i++) {
		g_autofree char *name = g_strdup_printf("%s/%03u", dir, i);

		make_file(name, SMALL_SIZE);
	}
	names = listing_of(dir);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *name = g_build_filename(dir, names->pdata[i], NULL);

		if (i < cached)
			pin(name);
		else if (!evict(name))
			return false;
	}
	return true;
}

START_TEST(gives_up_on_a_store_path_already_in_memory)
{
	struct sv_readahead *ra;

	if (!make_warm_store("warm", SV_READAHEAD_MAX_CACHED_RUN) ||
	    !make_warm_store("mixed", SV_READAHEAD_MAX_CACHED_RUN - 1)) {
		say_no_eviction();
		return;
	}
	ra = sv_readahead_new(NULL);
	ck_assert_ptr_nonnull(ra);
	/* 64 files in a row in memory: the 16 after them are not read. */
	start(ra, "warm/d", "warm");
	ck_assert_uint_eq(idle_count(ra), 0);
	/* 63: the walk goes on. */
	start(ra, "mixed/d", "mixed");
	ck_assert_uint_eq(idle_count(ra), 16);
	sv_readahead_free(ra);
}
END_TEST

/* Makes the file size bytes long, keeping its name's place in the listing. */
static void resize_file(const char *relative, size_t size)
{
	g_autofree char *path = path_of(relative);
	g_autofree char *data = g_malloc0(size);
	int fd = open(path, O_WRONLY | O_TRUNC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, size), (ssize_t)size);
	ck_assert_int_eq(fsync(fd), 0);
	ck_assert_int_eq(close(fd), 0);
}

/*
 * In listing order: more files than the window holds, which the walk
 * waits in; then many in memory (the reader read them meanwhile, pinned);
 * then 16 that are not.
 */
START_TEST(goes_on_past_files_readers_have_read)
{
	unsigned int window_files = SV_READAHEAD_WINDOW / SV_READAHEAD_MAX_FILE_SIZE;
	unsigned int big = window_files + 4, cached = 2 * SV_READAHEAD_MAX_CACHED_RUN;
	g_autoptr(GPtrArray) names = NULL;
	struct sv_readahead *ra;

	make_dir("store");
	make_dir("store/d");
	for (unsigned int i = 0; i < big + cached + 16; i++) {
		g_autofree char *name = g_strdup_printf("store/d/%03u", i);

		make_file(name, SMALL_SIZE);
	}
	names = listing_of("store/d");
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *name = g_build_filename("store/d", names->pdata[i], NULL);

		if (i < big)
			resize_file(name, SV_READAHEAD_MAX_FILE_SIZE);
		if (i >= big && i < big + cached) {
			pin(name);
		} else if (!evict(name)) {
			say_no_eviction();
			return;
		}
	}
	ra = sv_readahead_new(NULL);
	ck_assert_ptr_nonnull(ra);
	start(ra, "store/d", "store");
	ck_assert_uint_eq(idle_count(ra), window_files);
	/* The reader opens every file up to the last 16 while the walk waits. */
	for (unsigned int i = 0; i < big + cached; i++)
		sv_readahead_opened(ra);
	sv_readahead_consumed(ra, SV_READAHEAD_WINDOW);
	ck_assert_uint_eq(idle_count(ra), big + 16);
	sv_readahead_free(ra);
}
END_TEST

START_TEST(every_fd_is_closed_whatever_was_waiting)
{
	unsigned int before = sv_open_fds();
	struct sv_readahead *ra = sv_readahead_new(NULL);

	ck_assert_ptr_nonnull(ra);
	make_dir("store");
	make_dir("other");
	make_file("store/a", SMALL_SIZE);
	for (int i = 0; i < 100; i++)
		start(ra, i % 2 ? "store" : "other", i % 2 ? "store" : "other");
	/* One start waiting, one walked: a directory and the one above each. */
	ck_assert_uint_le(sv_open_fds(), before + 4);
	sv_readahead_free(ra);
	ck_assert_uint_eq(sv_open_fds(), before);
}
END_TEST

Suite *readahead_suite(void)
{
	Suite *s = suite_create("readahead");
	TCase *tc = tcase_create("readahead");

	/* The checks wait for a thread doing real I/O, with bounds of their own. */
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, goes_on_as_a_depth_first_reader_within_the_store_path);
	tcase_add_test(tc, stays_within_the_window_and_moves_to_another_store_path);
	tcase_add_test(tc, gives_up_on_a_store_path_already_in_memory);
	tcase_add_test(tc, goes_on_past_files_readers_have_read);
	tcase_add_test(tc, every_fd_is_closed_whatever_was_waiting);
	suite_add_tcase(s, tc);
	return s;
}
