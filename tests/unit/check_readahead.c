/* Unit tests for readahead.c on real files, without a mount. */
#include "config.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
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

static int open_dir(const char *relative)
{
	g_autofree char *path = path_of(relative);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* A directory's files are counted at once, when it is done. */
static unsigned long wait_done(struct sv_readahead *ra)
{
	for (int i = 0; i < 1000 && sv_readahead_count(ra) == 0; i++)
		g_usleep(10 * 1000);
	return sv_readahead_count(ra);
}

/* readahead(2) only starts the reads. */
static bool wait_resident(const char *relative, size_t pages)
{
	for (int i = 0; i < 500 && resident_pages(relative) < pages; i++)
		g_usleep(10 * 1000);
	return resident_pages(relative) == pages;
}

static void setup(void)
{
	tmp = sv_scratch_new("readahead");
	g_autofree char *dir = path_of("dir");
	g_autofree char *sub = path_of("dir/sub");
	g_autofree char *other = path_of("other");
	g_autofree char *fifo = path_of("dir/fifo");
	g_autofree char *link = path_of("dir/link");

	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(mkdir(other, 0755), 0);
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	ck_assert_int_eq(symlink("../other/linked", link), 0);
}

static void teardown(void)
{
	sv_scratch_free(tmp);
}

START_TEST(reads_ahead_small_files_of_the_directory_only)
{
	static const char *const small[] = { "dir/a", "dir/b", "dir/c", "dir/d", "dir/e" };
	static const char *const left[] = { "dir/large", "dir/sub/file", "other/linked" };
	size_t small_pages = SMALL_SIZE / (size_t)sysconf(_SC_PAGESIZE);
	struct sv_readahead *ra;

	for (guint i = 0; i < G_N_ELEMENTS(small); i++)
		make_file(small[i], SMALL_SIZE);
	make_file("dir/large", SV_READAHEAD_MAX_FILE_SIZE + 4096);
	make_file("dir/sub/file", SMALL_SIZE);
	make_file("other/linked", SMALL_SIZE);
	make_file("dir/empty", 0);
	for (guint i = 0; i < G_N_ELEMENTS(small); i++)
		if (!evict(small[i])) {
			fprintf(stderr, "SKIP: %s keeps file pages in memory\n", tmp);
			return;
		}
	for (guint i = 0; i < G_N_ELEMENTS(left); i++)
		ck_assert(evict(left[i]));

	ra = sv_readahead_new(NULL);
	ck_assert_ptr_nonnull(ra);
	sv_readahead_queue(ra, open_dir("dir"));
	ck_assert_uint_eq(wait_done(ra), G_N_ELEMENTS(small));
	for (guint i = 0; i < G_N_ELEMENTS(small); i++)
		ck_assert_msg(wait_resident(small[i], small_pages), "%s not read ahead", small[i]);
	/* Not a large file, nor below, nor through a symlink; the fifo was not opened. */
	for (guint i = 0; i < G_N_ELEMENTS(left); i++)
		ck_assert_msg(resident_pages(left[i]) == 0, "%s was read ahead", left[i]);
	sv_readahead_free(ra);
	ck_assert_uint_eq(sv_readahead_count(NULL), 0);
}
END_TEST

START_TEST(stops_at_the_directory_budget)
{
	unsigned int files = SV_READAHEAD_MAX_BYTES / SV_READAHEAD_MAX_FILE_SIZE + 2;
	struct sv_readahead *ra;

	for (unsigned int i = 0; i < files; i++) {
		g_autofree char *name = g_strdup_printf("dir/%02u", i);

		make_file(name, SV_READAHEAD_MAX_FILE_SIZE);
	}
	ra = sv_readahead_new(NULL);
	ck_assert_ptr_nonnull(ra);
	sv_readahead_queue(ra, open_dir("dir"));
	ck_assert_uint_eq(wait_done(ra), SV_READAHEAD_MAX_BYTES / SV_READAHEAD_MAX_FILE_SIZE);
	sv_readahead_free(ra);
}
END_TEST

START_TEST(every_fd_is_closed_whatever_was_waiting)
{
	unsigned int before = sv_open_fds();
	struct sv_readahead *ra = sv_readahead_new(NULL);

	ck_assert_ptr_nonnull(ra);
	make_file("dir/a", SMALL_SIZE);
	for (int i = 0; i < 100; i++)
		sv_readahead_queue(ra, open_dir("dir"));
	ck_assert_uint_le(sv_open_fds(), before + SV_READAHEAD_MAX_QUEUED + 2);
	sv_readahead_free(ra);
	ck_assert_uint_eq(sv_open_fds(), before);
}
END_TEST

Suite *readahead_suite(void)
{
	Suite *s = suite_create("readahead");
	TCase *tc = tcase_create("readahead");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reads_ahead_small_files_of_the_directory_only);
	tcase_add_test(tc, stops_at_the_directory_budget);
	tcase_add_test(tc, every_fd_is_closed_whatever_was_waiting);
	suite_add_tcase(s, tc);
	return s;
}
