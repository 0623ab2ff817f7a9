/*
 * svbench: the measuring half of the benchmark (tests/bench/run drives it).
 * Each workload prints one line of key=value figures, seconds included, so
 * the driver only does arithmetic.  Nothing here follows symlinks.
 *
 *   svbench walk DIR               fstatat() every entry under DIR
 *   svbench read ROOT LIST [cached]
 *                                  open, read to the end, close each file;
 *                                  cached: sum the pages each file holds in
 *                                  the page cache once read (cachestat(2))
 *   svbench openclose ROOT LIST noatime|plain
 *                                  open and close each file
 *   svbench hold-latency           hold /dev/cpu_dma_latency at 0 until killed
 *   svbench pingpong N             N round trips of a byte between two processes
 *   svbench mkfiles DIR N          N empty files for the scale mode
 *   svbench cachestat ROOT LIST    pages of LIST's files in the page cache, by
 *                                  cachestat(2), each (st_dev, st_ino) once, as
 *                                  SOURCE's hard links share their pages
 *
 * LIST holds paths relative to ROOT, one a line.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF (1024 * 1024)
/* The scale fixture: files per directory, directories per store entry. */
#define FILES_PER_DIR 1000
#define DIRS_PER_ENTRY 100

/* cachestat(2), Linux 6.5; Debian 12's headers predate it. */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct cachestat_range {
	uint64_t off, len;
};
struct cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

/* Pages of the file open as fd in the page cache, or -1. */
static long long cached_pages(int fd)
{
	struct cachestat_range whole = { 0, 0 };
	struct cachestat cs;

	if (syscall(__NR_cachestat, fd, &whole, &cs, 0) < 0)
		return -1;
	return (long long)cs.nr_cache;
}

struct walk_count {
	unsigned long entries;
	unsigned long errors;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void walk_dir(int dirfd, struct walk_count *count)
{
	DIR *dp = fdopendir(dirfd);
	struct dirent *d;

	if (!dp) {
		close(dirfd);
		count->errors++;
		return;
	}
	while ((d = readdir(dp))) {
		struct stat st;
		int fd;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (fstatat(dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			count->errors++;
			continue;
		}
		count->entries++;
		if (!S_ISDIR(st.st_mode))
			continue;
		fd = openat(dirfd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			count->errors++;
			continue;
		}
		walk_dir(fd, count);
	}
	closedir(dp);
}

static int cmd_walk(const char *dir)
{
	struct walk_count count = { 0 };
	double start = now();
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		perror(dir);
		return 1;
	}
	walk_dir(fd, &count);
	printf("entries=%lu errors=%lu seconds=%.6f\n", count.entries, count.errors,
	       now() - start);
	return 0;
}

/* Calls fn(rootfd, path, data) for each line of list; returns -1 if list cannot be read. */
static int for_each_path(const char *root, const char *list,
			 void (*fn)(int rootfd, const char *path, void *data), void *data)
{
	FILE *f = fopen(list, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rootfd, ret = -1;

	if (!f) {
		perror(list);
		return -1;
	}
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		perror(root);
		goto out;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		fn(rootfd, line, data);
	}
	close(rootfd);
	ret = 0;
out:
	free(line);
	fclose(f);
	return ret;
}

struct read_count {
	char *buf;
	unsigned long files;
	unsigned long errors;
	uint64_t bytes;
	bool cached;		/* count the pages each file holds once read */
	uint64_t cached_pages;
};

static void read_one(int rootfd, const char *path, void *data)
{
	struct read_count *count = data;
	int fd = openat(rootfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		count->errors++;
		return;
	}
	while ((n = read(fd, count->buf, READ_BUF)) > 0)
		count->bytes += (uint64_t)n;
	if (n < 0)
		count->errors++;
	else
		count->files++;
	/*
	 * Asked before close, on the reader's own open file: opening the file
	 * again to ask would drop the pages of a view that does not keep them.
	 */
	if (n == 0 && count->cached) {
		long long pages = cached_pages(fd);

		if (pages < 0)
			count->errors++;
		else
			count->cached_pages += (uint64_t)pages;
	}
	close(fd);
}

static int cmd_read(const char *root, const char *list, bool cached)
{
	struct read_count count = { .buf = malloc(READ_BUF), .cached = cached };
	double start = now();

	if (!count.buf || for_each_path(root, list, read_one, &count) < 0)
		return 1;
	printf("files=%lu errors=%lu bytes=%llu seconds=%.6f", count.files, count.errors,
	       (unsigned long long)count.bytes, now() - start);
	if (cached)
		printf(" cached_pages=%llu", (unsigned long long)count.cached_pages);
	printf("\n");
	free(count.buf);
	return 0;
}

struct open_count {
	int flags;
	unsigned long files;
	unsigned long errors;
};

static void open_one(int rootfd, const char *path, void *data)
{
	struct open_count *count = data;
	int fd = openat(rootfd, path, count->flags);

	if (fd < 0) {
		count->errors++;
		return;
	}
	close(fd);
	count->files++;
}

static int cmd_openclose(const char *root, const char *list, const char *mode)
{
	struct open_count count = { .flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC };
	double start;

	if (!strcmp(mode, "noatime"))
		count.flags |= O_NOATIME;
	else if (strcmp(mode, "plain")) {
		fprintf(stderr, "svbench: openclose mode must be noatime or plain\n");
		return 2;
	}
	start = now();
	if (for_each_path(root, list, open_one, &count) < 0)
		return 1;
	printf("files=%lu errors=%lu seconds=%.6f\n", count.files, count.errors, now() - start);
	return 0;
}

/*
 * CPU idle-state exits dominate a FUSE round trip on an idle VM: the PM QoS
 * request lasts as long as the fd stays open.
 */
static int cmd_hold_latency(void)
{
	int32_t zero = 0;
	int fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, &zero, sizeof(zero)) != sizeof(zero)) {
		perror("/dev/cpu_dma_latency");
		return 1;
	}
	printf("held\n");
	fflush(stdout);
	for (;;)
		pause();
}

/*
 * What one FUSE request costs at least: a process wakes another and sleeps
 * until woken back (the reader and the daemon, here through pipes).
 */
static int cmd_pingpong(unsigned long n)
{
	int to_child[2], to_parent[2], status;
	double start;
	char byte = 0;
	pid_t pid;

	if (n == 0 || pipe(to_child) < 0 || pipe(to_parent) < 0) {
		perror("pingpong");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(to_child[1]);
		while (read(to_child[0], &byte, 1) == 1)
			if (write(to_parent[1], &byte, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(to_child[0]);
	start = now();
	for (unsigned long i = 0; i < n; i++)
		if (write(to_child[1], &byte, 1) != 1 || read(to_parent[0], &byte, 1) != 1) {
			perror("pingpong");
			return 1;
		}
	printf("round_trips=%lu seconds=%.6f\n", n, now() - start);
	close(to_child[1]);
	waitpid(pid, &status, 0);
	return 0;
}

static int make_file(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Store entries of DIRS_PER_ENTRY directories of FILES_PER_DIR empty files. */
static int cmd_mkfiles(const char *dir, unsigned long n)
{
	char name[128];
	int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int entryfd = -1, subfd = -1, ret = 1;

	if (rootfd < 0) {
		perror(dir);
		return 1;
	}
	for (unsigned long i = 0; i < n; i++) {
		unsigned long sub = i / FILES_PER_DIR, entry = sub / DIRS_PER_ENTRY;

		if (i % (FILES_PER_DIR * DIRS_PER_ENTRY) == 0) {
			if (entryfd >= 0)
				close(entryfd);
			/* A Nix-looking name: 32 characters of the base32 alphabet. */
			snprintf(name, sizeof(name), "%032lu-scale-%lu", entry * 7919 + 1, entry);
			if (mkdirat(rootfd, name, 0755) < 0)
				goto fail;
			entryfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (entryfd < 0)
				goto fail;
		}
		if (i % FILES_PER_DIR == 0) {
			if (subfd >= 0)
				close(subfd);
			snprintf(name, sizeof(name), "d%lu", sub % DIRS_PER_ENTRY);
			if (mkdirat(entryfd, name, 0755) < 0)
				goto fail;
			subfd = openat(entryfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (subfd < 0)
				goto fail;
		}
		snprintf(name, sizeof(name), "f%lu", i % FILES_PER_DIR);
		if (make_file(subfd, name) < 0)
			goto fail;
	}
	ret = 0;
	goto out;
fail:
	perror(name);
out:
	if (subfd >= 0)
		close(subfd);
	if (entryfd >= 0)
		close(entryfd);
	close(rootfd);
	return ret;
}

struct cached_file {
	dev_t dev;
	ino_t ino;
	uint64_t pages;
	uint64_t size_pages;
};

struct cache_count {
	struct cached_file *files;
	size_t len, cap;
	unsigned long errors;
};

static void cachestat_one(int rootfd, const char *path, void *data)
{
	struct cache_count *count = data;
	struct cachestat_range whole = { 0, 0 };
	struct cachestat cs;
	struct stat st;
	long page = sysconf(_SC_PAGESIZE);
	/* Opening for reading reads nothing; O_NOATIME keeps SOURCE's atimes (root may). */
	int fd = openat(rootfd, path, O_RDONLY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC);

	if (fd < 0) {
		count->errors++;
		return;
	}
	if (fstat(fd, &st) < 0 || syscall(__NR_cachestat, fd, &whole, &cs, 0) < 0) {
		count->errors++;
		close(fd);
		return;
	}
	close(fd);
	if (count->len == count->cap) {
		count->cap = count->cap ? count->cap * 2 : 4096;
		count->files = realloc(count->files, count->cap * sizeof(*count->files));
		if (!count->files) {
			perror("realloc");
			exit(1);
		}
	}
	count->files[count->len++] = (struct cached_file){
		st.st_dev, st.st_ino, cs.nr_cache, ((uint64_t)st.st_size + (uint64_t)page - 1) / (uint64_t)page
	};
}

static int by_dev_ino(const void *a, const void *b)
{
	const struct cached_file *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* pages: in the page cache; size_pages: the files' sizes in pages. */
static int cmd_cachestat(const char *root, const char *list)
{
	struct cache_count count = { 0 };
	uint64_t pages = 0, size_pages = 0;
	unsigned long files = 0;
	double start = now();

	if (for_each_path(root, list, cachestat_one, &count) < 0)
		return 1;
	if (count.len)
		qsort(count.files, count.len, sizeof(*count.files), by_dev_ino);
	for (size_t i = 0; i < count.len; i++) {
		if (i > 0 && !by_dev_ino(&count.files[i - 1], &count.files[i]))
			continue;
		files++;
		pages += count.files[i].pages;
		size_pages += count.files[i].size_pages;
	}
	printf("files=%lu errors=%lu pages=%llu size_pages=%llu page_bytes=%ld seconds=%.6f\n",
	       files, count.errors, (unsigned long long)pages, (unsigned long long)size_pages,
	       sysconf(_SC_PAGESIZE), now() - start);
	free(count.files);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: svbench walk DIR | read ROOT LIST [cached] | "
			"openclose ROOT LIST noatime|plain | hold-latency | pingpong N | "
			"mkfiles DIR N | cachestat ROOT LIST\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "walk"))
		return cmd_walk(argv[2]);
	if ((argc == 4 || (argc == 5 && !strcmp(argv[4], "cached"))) && !strcmp(argv[1], "read"))
		return cmd_read(argv[2], argv[3], argc == 5);
	if (argc == 5 && !strcmp(argv[1], "openclose"))
		return cmd_openclose(argv[2], argv[3], argv[4]);
	if (argc == 2 && !strcmp(argv[1], "hold-latency"))
		return cmd_hold_latency();
	if (argc == 3 && !strcmp(argv[1], "pingpong"))
		return cmd_pingpong(strtoul(argv[2], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "mkfiles"))
		return cmd_mkfiles(argv[2], strtoul(argv[3], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "cachestat"))
		return cmd_cachestat(argv[2], argv[3]);
	return usage();
}
