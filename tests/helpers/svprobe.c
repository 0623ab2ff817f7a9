/*
 * svprobe: what the integration tests observe, printed as text they can
 * compare.  Every subcommand walks or opens without following symlinks.
 *
 *   svprobe tree DIR          one line per entry: path, type, mode, size,
 *                             mtime, nlink, link target, xattrs, sha256
 *   svprobe files DIR         the regular files, relative paths, NUL-terminated
 *   svprobe owners DIR        one line per entry: path uid:gid
 *   svprobe times DIR         one line per entry: path atime mtime ctime
 *   svprobe noatime-open F... per file: "ok SHA256" or "err ERRNO-NAME"
 *   svprobe write-attempts D  tries every writing call under D, one line each
 *                             (fd-based writes need a writable fd, which the
 *                             opens for writing tried here never give)
 *   svprobe deep DIR          follows DIR's chain of single subdirectories one
 *                             openat() at a time, past PATH_MAX: depth, path
 *                             length and the sha256 of the file "leaf" at the end
 *   svprobe try-open P...     per path: O_RDONLY|O_NONBLOCK|O_NOFOLLOW open and a
 *                             one-byte read: "ok read=N", "ok readerr=E" or "err E"
 *   svprobe mksock PATH       creates a unix socket at PATH
 *   svprobe hold F...         opens every F and keeps them open until stdin
 *                             ends, then reads a byte of each: prints
 *                             "opened N failed N ERRNO..." and "read N failed N"
 *   svprobe share F N         holds N open files of F at once (O_NOATIME), reads
 *                             each, the last through a mapping, reopens every
 *                             other one and reads again: "share ok SHA256"
 *   svprobe mkchain DIR N     makes N nested directories "d" below DIR, one
 *                             mkdirat() and openat() at a time, and the file
 *                             "leaf" at the bottom
 *   svprobe rmchain DIR       removes what mkchain made below DIR, bottom up
 *                             through "..", in time linear in its depth
 *   svprobe hold-dir DIR N F  opens the directory N levels of "d" below DIR,
 *                             one openat() at a time, prints "held depth=N",
 *                             keeps it open until stdin ends, then lists it
 *                             and reads F in it: "list n=N" or "list err E",
 *                             then "F ok read=N" or "F err E"
 *   svprobe node-id F...      per path on a FUSE mount, the node id its file
 *                             handle (name_to_handle_at) carries: "F id=N"
 *                             or "F err E"
 *   svprobe hold-handle F     takes F's file handle (name_to_handle_at), prints
 *                             "held", waits for stdin to end, then opens the
 *                             handle (open_by_handle_at) and reads a byte:
 *                             "ok read=N" or "err E"
 *   svprobe handles SECONDS REF VIEW [REF VIEW]...
 *                             opens every VIEW file, says "opened N" and waits
 *                             for stdin to end, then for each of fstat, lseek
 *                             (END, DATA, HOLE), pread, mmap and sendfile waits
 *                             SECONDS and compares what it answers through each
 *                             open file with the same on REF, a regular file:
 *                             one line per file, "VIEW ok" or VIEW and each
 *                             difference
 *   svprobe read-cached F...  per file: reads it whole, then asks its open
 *                             file's pages in the page cache (cachestat(2)):
 *                             "F pages=N of=M", M its size in pages, or "F err E"
 *   svprobe soak ROLE SOURCE VIEW SECONDS SEED
 *                             for SECONDS, compares VIEW against SOURCE at
 *                             random: ROLE read (bytes, then drops the view's
 *                             cached pages), direct (bytes, O_DIRECT), stat
 *                             (lstat) or list (readdir); prints one line of
 *                             counts, and each mismatch or error on stderr
 *   svprobe getxattr-storm THREADS CALLS NAME PATH...
 *                             THREADS threads each ask CALLS lgetxattr() of NAME
 *                             from the PATHs in turn (half with a buffer, half
 *                             for the size): "calls=N" and, for each answer,
 *                             "ok=N" or "ERRNO-NAME=N", in errno order
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib.h>

typedef void (*entry_fn)(const char *root, const char *rel, const struct stat *st);

static const char *errno_name(int err)
{
	static const struct { int err; const char *name; } names[] = {
		{ EPERM, "EPERM" }, { EACCES, "EACCES" }, { EROFS, "EROFS" },
		{ ENOENT, "ENOENT" }, { ESTALE, "ESTALE" }, { ELOOP, "ELOOP" },
		{ EISDIR, "EISDIR" }, { ENOTDIR, "ENOTDIR" }, { EEXIST, "EEXIST" },
		{ EINVAL, "EINVAL" }, { ENXIO, "ENXIO" }, { ENOTCONN, "ENOTCONN" },
		{ EMFILE, "EMFILE" }, { ENFILE, "ENFILE" }, { EIO, "EIO" },
		{ ENAMETOOLONG, "ENAMETOOLONG" }, { EXDEV, "EXDEV" }, { EBADF, "EBADF" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { ENODATA, "ENODATA" }, { ETXTBSY, "ETXTBSY" },
		{ EUCLEAN, "EUCLEAN" }, { ECONNABORTED, "ECONNABORTED" }, { ENOSPC, "ENOSPC" },
		{ EAGAIN, "EAGAIN" }, { EINTR, "EINTR" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
		if (names[i].err == err)
			return names[i].name;
	return g_strdup_printf("errno%d", err);
}

/* Names may hold newlines or invalid UTF-8: print them escaped. */
static char *printable(const char *s)
{
	return g_strescape(s, NULL);
}

static char *sha256_fd(int fd)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		g_checksum_update(sum, (const guchar *)buf, n);
	if (n < 0)
		return g_strdup_printf("readerr:%s", errno_name(errno));
	return g_strdup(g_checksum_get_string(sum));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Root's reads of SOURCE must not change its atimes either. */
static int open_noatime(const char *path, int flags)
{
	int fd = open(path, flags | O_NOATIME | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EPERM)
		fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static DIR *opendir_noatime(const char *path)
{
	int fd = open_noatime(path, O_RDONLY | O_DIRECTORY);
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);

	if (fd >= 0 && !dp)
		close(fd);
	return dp;
}

static void walk(const char *root, const char *rel, entry_fn fn)
{
	g_autofree char *path = *rel ? g_build_filename(root, rel, NULL) : g_strdup(root);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	struct dirent *d;
	struct stat st;
	DIR *dp;

	if (lstat(path, &st) < 0) {
		g_autofree char *p = printable(rel);
		printf("%s lstat-error %s\n", p, errno_name(errno));
		return;
	}
	fn(root, rel, &st);
	if (!S_ISDIR(st.st_mode))
		return;
	dp = opendir_noatime(path);
	if (!dp) {
		g_autofree char *p = printable(rel);
		printf("%s opendir-error %s\n", p, errno_name(errno));
		return;
	}
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			g_ptr_array_add(names, g_strdup(d->d_name));
	closedir(dp);
	g_ptr_array_sort(names, cmp_names);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *child = *rel ? g_strconcat(rel, "/", names->pdata[i], NULL)
					      : g_strdup(names->pdata[i]);
		walk(root, child, fn);
	}
}

static char *xattrs_of(const char *path)
{
	char names[65536], value[65536];
	ssize_t len = llistxattr(path, names, sizeof(names));
	g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
	GString *out = g_string_new("");

	if (len < 0)
		return g_string_free(out, FALSE);
	for (char *n = names; n < names + len; n += strlen(n) + 1)
		g_ptr_array_add(list, g_strdup(n));
	g_ptr_array_sort(list, cmp_names);
	for (guint i = 0; i < list->len; i++) {
		ssize_t vlen = lgetxattr(path, list->pdata[i], value, sizeof(value));
		g_autofree char *hex = NULL;

		if (vlen < 0) {
			g_string_append_printf(out, "%s=<%s>;", (char *)list->pdata[i], errno_name(errno));
			continue;
		}
		hex = g_malloc(2 * vlen + 1);
		for (ssize_t j = 0; j < vlen; j++)
			sprintf(hex + 2 * j, "%02x", (unsigned char)value[j]);
		hex[2 * vlen] = '\0';
		g_string_append_printf(out, "%s=%s;", (char *)list->pdata[i], hex);
	}
	return g_string_free(out, FALSE);
}

static char type_char(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return 'f';
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFIFO: return 'p';
	case S_IFSOCK: return 's';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	}
	return '?';
}

static void print_tree_entry(const char *root, const char *rel, const struct stat *st)
{
	g_autofree char *path = *rel ? g_build_filename(root, rel, NULL) : g_strdup(root);
	g_autofree char *p = printable(*rel ? rel : ".");
	g_autofree char *xattrs = xattrs_of(path);
	g_autofree char *extra = NULL;

	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlink(path, target, PATH_MAX);

		target[n < 0 ? 0 : n] = '\0';
		g_autofree char *t = printable(target);
		extra = g_strdup_printf("-> %s", t);
	} else if (S_ISREG(st->st_mode)) {
		int fd = open_noatime(path, O_RDONLY);

		if (fd < 0) {
			extra = g_strdup_printf("openerr:%s", errno_name(errno));
		} else {
			extra = sha256_fd(fd);
			close(fd);
		}
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		extra = g_strdup_printf("rdev=%u:%u", major(st->st_rdev), minor(st->st_rdev));
	} else {
		extra = g_strdup("");
	}
	printf("%s %c %04o size=%lld mtime=%lld.%09ld nlink=%lu xattrs=%s %s\n", p,
	       type_char(st->st_mode), (unsigned)(st->st_mode & 07777),
	       S_ISDIR(st->st_mode) ? 0LL : (long long)st->st_size,
	       (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
	       S_ISDIR(st->st_mode) ? 0UL : (unsigned long)st->st_nlink, xattrs, extra);
}

static void print_file_entry(const char *root, const char *rel, const struct stat *st)
{
	/* NUL-terminated: store names may hold newlines. */
	if (S_ISREG(st->st_mode))
		printf("%s%c", rel, '\0');
}

static void print_owner_entry(const char *root, const char *rel, const struct stat *st)
{
	g_autofree char *p = printable(*rel ? rel : ".");

	printf("%s %u:%u\n", p, (unsigned)st->st_uid, (unsigned)st->st_gid);
}

static void print_times_entry(const char *root, const char *rel, const struct stat *st)
{
	g_autofree char *p = printable(*rel ? rel : ".");

	printf("%s atime=%lld.%09ld mtime=%lld.%09ld ctime=%lld.%09ld size=%lld\n", p,
	       (long long)st->st_atim.tv_sec, st->st_atim.tv_nsec,
	       (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
	       (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, (long long)st->st_size);
}

static int noatime_open(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		g_autofree char *p = printable(argv[i]);
		int fd = open(argv[i], O_RDONLY | O_NOATIME | O_CLOEXEC);

		if (fd < 0) {
			printf("%s err %s\n", p, errno_name(errno));
			continue;
		}
		g_autofree char *sum = sha256_fd(fd);
		printf("%s ok %s\n", p, sum);
		close(fd);
	}
	return 0;
}

/* cachestat(2), Linux 6.5; Debian 12's headers predate it. */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct probe_cachestat_range {
	uint64_t off, len;
};
struct probe_cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

/*
 * Asked on the open file that read: a view's file is its own inode in the
 * kernel, whose pages are the view's copy (none if read by passthrough).
 */
static int read_cached(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);

	for (int i = 0; i < argc; i++) {
		g_autofree char *p = printable(argv[i]);
		struct probe_cachestat_range whole = { 0, 0 };
		struct probe_cachestat cs;
		int fd = open_noatime(argv[i], O_RDONLY);
		struct stat st;

		if (fd < 0 || fstat(fd, &st) < 0) {
			printf("%s err %s\n", p, errno_name(errno));
			if (fd >= 0)
				close(fd);
			continue;
		}
		g_free(sha256_fd(fd));
		if (syscall(__NR_cachestat, fd, &whole, &cs, 0) < 0)
			printf("%s err %s\n", p, errno_name(errno));
		else
			printf("%s pages=%llu of=%lld\n", p, (unsigned long long)cs.nr_cache,
			       (long long)((st.st_size + page - 1) / page));
		close(fd);
	}
	return 0;
}

static void report(const char *what, int ret)
{
	printf("%s %s\n", what, ret == 0 ? "succeeded" : errno_name(errno));
}

/* dir must hold a regular file "file", a directory "dir" and a symlink "link". */
static int write_attempts(const char *dir)
{
	g_autofree char *file = g_build_filename(dir, "file", NULL);
	g_autofree char *sub = g_build_filename(dir, "dir", NULL);
	g_autofree char *symlink_path = g_build_filename(dir, "link", NULL);
	g_autofree char *fresh = g_build_filename(dir, "fresh", NULL);
	int fd;

	fd = open(file, O_WRONLY);
	report("open-wronly", fd < 0 ? -1 : 0);
	fd = open(file, O_RDWR);
	report("open-rdwr", fd < 0 ? -1 : 0);
	fd = open(file, O_RDONLY | O_TRUNC);
	report("open-trunc", fd < 0 ? -1 : 0);
	fd = open(file, O_WRONLY | O_APPEND);
	report("open-append", fd < 0 ? -1 : 0);
	fd = open(fresh, O_WRONLY | O_CREAT, 0644);
	report("create", fd < 0 ? -1 : 0);
	report("mkdir", mkdir(fresh, 0755));
	report("mknod-fifo", mkfifo(fresh, 0644));
	report("unlink", unlink(file));
	report("rmdir", rmdir(sub));
	report("rename", rename(file, fresh));
	report("link", link(file, fresh));
	report("symlink", symlink("target", fresh));
	report("chmod", chmod(file, 0777));
	report("chown", chown(file, 1, 1));
	report("truncate", truncate(file, 0));
	report("utimes", utimensat(AT_FDCWD, file, NULL, 0));
	report("setxattr", setxattr(file, "user.storeview-test", "x", 1, 0));
	report("removexattr", removexattr(file, "user.test"));
	report("lchown-link", lchown(symlink_path, 1, 1));
	return 0;
}

/* The one subdirectory of the directory dirfd, or NULL at the bottom. */
static char *only_subdir(int dirfd)
{
	int fd = dup(dirfd);
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *d;
	char *sub = NULL;

	if (!dp)
		return NULL;
	while ((d = readdir(dp)))
		if (d->d_type == DT_DIR && strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			sub = g_strdup(d->d_name);
	closedir(dp);
	return sub;
}

static int deep(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t depth = 0, len = 0;
	char *sub;

	if (fd < 0) {
		printf("err %s\n", errno_name(errno));
		return 1;
	}
	while ((sub = only_subdir(fd))) {
		int next = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		len += strlen(sub) + 1;
		g_free(sub);
		close(fd);
		if (next < 0) {
			printf("depth=%zu pathlen=%zu err %s\n", depth, len, errno_name(errno));
			return 1;
		}
		fd = next;
		depth++;
	}
	int leaf = openat(fd, "leaf", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	g_autofree char *sum = leaf < 0 ? g_strdup_printf("err %s", errno_name(errno)) : sha256_fd(leaf);

	printf("depth=%zu pathlen=%zu leaf %s\n", depth, len, sum);
	if (leaf >= 0)
		close(leaf);
	close(fd);
	return 0;
}

static int try_open(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		g_autofree char *p = printable(argv[i]);
		int fd = open(argv[i], O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		char byte;
		ssize_t n;

		if (fd < 0) {
			printf("%s err %s\n", p, errno_name(errno));
			continue;
		}
		n = read(fd, &byte, 1);
		if (n < 0)
			printf("%s ok readerr=%s\n", p, errno == EAGAIN ? "EAGAIN" : errno_name(errno));
		else
			printf("%s ok read=%zd\n", p, n);
		close(fd);
	}
	return 0;
}

static int mksock(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "svprobe: cannot create socket %s\n", path);
		return 1;
	}
	strcpy(addr.sun_path, path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("svprobe: bind");
		return 1;
	}
	close(fd);
	return 0;
}

static int hold(int argc, char **argv)
{
	g_autofree int *fds = g_new(int, argc);
	g_autoptr(GString) errs = g_string_new(NULL);
	int opened = 0, read_ok = 0;
	char byte;

	for (int i = 0; i < argc; i++) {
		fds[i] = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			g_string_append_printf(errs, " %s", errno_name(errno));
		else
			opened++;
	}
	printf("opened %d failed %d%s\n", opened, argc - opened, errs->str);
	fflush(stdout);
	while (read(0, &byte, 1) > 0)
		;
	for (int i = 0; i < argc; i++) {
		if (fds[i] < 0)
			continue;
		if (pread(fds[i], &byte, 1, 0) == 1)
			read_ok++;
		close(fds[i]);
	}
	printf("read %d failed %d\n", read_ok, opened - read_ok);
	return 0;
}

static int mkchain(const char *dir, long levels)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	for (long i = 0; fd >= 0 && i < levels; i++) {
		int next;

		if (mkdirat(fd, "d", 0755) < 0)
			break;
		next = openat(fd, "d", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	if (fd < 0) {
		fprintf(stderr, "mkchain: %s\n", g_strerror(errno));
		return 1;
	}
	int leaf = openat(fd, "leaf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (leaf < 0 || write(leaf, "bottom\n", 7) != 7) {
		fprintf(stderr, "mkchain: leaf: %s\n", g_strerror(errno));
		return 1;
	}
	close(leaf);
	close(fd);
	return 0;
}

static int rmchain(const char *dir)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat top, st;
	int next;

	if (fd < 0 || fstat(fd, &top) < 0)
		return 1;
	while ((next = openat(fd, "d", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		close(fd);
		fd = next;
	}
	unlinkat(fd, "leaf", 0);
	while (fstat(fd, &st) == 0 && (st.st_dev != top.st_dev || st.st_ino != top.st_ino)) {
		next = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		if (next < 0 || unlinkat(next, "d", AT_REMOVEDIR) < 0) {
			fprintf(stderr, "rmchain: %s\n", g_strerror(errno));
			return 1;
		}
		fd = next;
	}
	close(fd);
	return 0;
}

/* A FUSE file handle is the node id, high word first, then a generation. */
static int node_ids(int n, char **paths)
{
	int failed = 0;

	for (int i = 0; i < n; i++) {
		union {
			struct file_handle fh;
			char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
		} h = { .fh.handle_bytes = MAX_HANDLE_SZ };
		uint32_t words[2];
		int mount_id;

		if (name_to_handle_at(AT_FDCWD, paths[i], &h.fh, &mount_id, 0) < 0 ||
		    h.fh.handle_bytes < sizeof(words)) {
			printf("%s err %s\n", paths[i], errno_name(errno));
			failed = 1;
			continue;
		}
		memcpy(words, h.fh.f_handle, sizeof(words));
		printf("%s id=%llu\n", paths[i],
		       (unsigned long long)words[0] << 32 | (unsigned long long)words[1]);
	}
	return failed;
}

static int hold_handle(const char *path)
{
	union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h = { .fh.handle_bytes = MAX_HANDLE_SZ };
	g_autofree char *dir = g_path_get_dirname(path);
	int mount_id, mount_fd, held, fd;
	ssize_t got;
	char byte;

	/* F itself held as the kernel's inode, its directory named the mount. */
	held = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	mount_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (held < 0 || mount_fd < 0 ||
	    name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0) {
		printf("err %s\n", errno_name(errno));
		return 1;
	}
	printf("held\n");
	fflush(stdout);
	while (read(0, &byte, 1) > 0)
		;
	fd = open_by_handle_at(mount_fd, &h.fh, O_RDONLY | O_CLOEXEC);
	got = fd < 0 ? -1 : read(fd, &byte, 1);
	if (got < 0)
		printf("err %s\n", errno_name(errno));
	else
		printf("ok read=%zd\n", got);
	if (fd >= 0)
		close(fd);
	close(mount_fd);
	close(held);
	return 0;
}

static int hold_dir(const char *dir, long levels, const char *name)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	long depth = 0;
	char byte;

	for (; fd >= 0 && depth < levels; depth++) {
		int next = openat(fd, "d", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		close(fd);
		fd = next;
	}
	if (fd >= 0) {
		int held = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(fd);
		fd = held;
	}
	if (fd < 0) {
		printf("depth=%ld err %s\n", depth, errno_name(errno));
		return 1;
	}
	printf("held depth=%ld\n", depth);
	fflush(stdout);
	while (read(0, &byte, 1) > 0)
		;
	int list_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = list_fd < 0 ? NULL : fdopendir(list_fd);
	long n = 0;

	if (dp) {
		errno = 0;
		while (readdir(dp))
			n++;
	}
	if (dp && errno == 0)
		printf("list n=%ld\n", n);
	else
		printf("list err %s\n", errno_name(errno));
	if (dp)
		closedir(dp);
	int file = openat(fd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	ssize_t got = file < 0 ? -1 : read(file, &byte, 1);

	if (file < 0 || got < 0)
		printf("%s err %s\n", name, errno_name(errno));
	else
		printf("%s ok read=%zd\n", name, got);
	if (file >= 0)
		close(file);
	close(fd);
	return 0;
}

/* The SHA-256 of a mapping of fd's whole content. */
static char *sha256_mapped(int fd)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	struct stat st;
	void *map;

	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return g_strdup("maperr:size");
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return g_strdup_printf("maperr:%s", errno_name(errno));
	g_checksum_update(sum, map, st.st_size);
	munmap(map, (size_t)st.st_size);
	return g_strdup(g_checksum_get_string(sum));
}

/*
 * Holds n open files of path at once, reads each (the last one through a
 * mapping), then closes and reopens every other one and reads again: prints
 * "share ok SHA" if every read matched, else the first failure.
 */
static int share(const char *path, int n)
{
	g_autofree int *fds = g_new(int, n);
	g_autofree char *first = NULL;
	int ret = 0;

	for (int i = 0; i < n; i++)
		fds[i] = -1;
	for (int round = 0; round < 2 && ret == 0; round++) {
		for (int i = round; i < n && ret == 0; i += round + 1) {
			g_autofree char *sum = NULL;

			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = open(path, O_RDONLY | O_NOATIME | O_CLOEXEC);
			if (fds[i] < 0) {
				printf("share open %d: %s\n", i, errno_name(errno));
				ret = 1;
				break;
			}
			sum = i == n - 1 ? sha256_mapped(fds[i]) : sha256_fd(fds[i]);
			if (!first)
				first = g_strdup(sum);
			if (strcmp(sum, first) != 0) {
				printf("share read %d: %s, not %s\n", i, sum, first);
				ret = 1;
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (ret == 0)
		printf("share ok %s\n", first);
	return ret;
}

/* The SHA-256 of fd's content as sendfile(2) copies it into a memfd. */
static char *sha256_sent(int fd, off_t size)
{
	int out = memfd_create("svprobe-sendfile", MFD_CLOEXEC);
	off_t pos = 0;
	char *sum;

	if (out < 0)
		return g_strdup_printf("memfd:%s", errno_name(errno));
	while (pos < size) {
		ssize_t n = sendfile(out, fd, &pos, (size_t)(size - pos));

		if (n <= 0) {
			sum = g_strdup_printf("senderr:%s", n < 0 ? errno_name(errno) : "short");
			close(out);
			return sum;
		}
	}
	lseek(out, 0, SEEK_SET);
	sum = sha256_fd(out);
	close(out);
	return sum;
}

/* The SHA-256 of fd's content read with pread(2) from offset 0. */
static char *sha256_pread(int fd)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	char buf[65536];
	off_t pos = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), pos)) > 0) {
		g_checksum_update(sum, (const guchar *)buf, n);
		pos += n;
	}
	if (n < 0)
		return g_strdup_printf("readerr:%s", errno_name(errno));
	return g_strdup(g_checksum_get_string(sum));
}

static char *seek_result(int fd, off_t offset, int whence)
{
	off_t pos = lseek(fd, offset, whence);

	return pos < 0 ? g_strdup(errno_name(errno)) : g_strdup_printf("%lld", (long long)pos);
}

static sigjmp_buf mapped_read_failed;

static void on_sigbus(int sig)
{
	siglongjmp(mapped_read_failed, 1);
}

/*
 * The SHA-256 of a mapping of fd's first size bytes; a page the file
 * cannot give (SIGBUS) is an answer too.
 */
static char *sha256_mapped_size(int fd, off_t size)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	struct sigaction bus = { .sa_handler = on_sigbus }, old;
	char *volatile result = NULL;
	void *map;

	if (size == 0)
		return g_strdup("empty");
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return g_strdup_printf("maperr:%s", errno_name(errno));
	sigaction(SIGBUS, &bus, &old);
	if (sigsetjmp(mapped_read_failed, 1) == 0) {
		g_checksum_update(sum, map, size);
		result = g_strdup(g_checksum_get_string(sum));
	} else {
		result = g_strdup("SIGBUS");
	}
	sigaction(SIGBUS, &old, NULL);
	munmap(map, (size_t)size);
	return result;
}

static const char *const handle_ops[] = {
	"fstat", "seek_end", "seek_data", "seek_hole", "pread", "mmap", "sendfile",
};

/*
 * What one operation on an open file answers; size is the reference's
 * size, so that mmap and sendfile ask nothing else of the file.
 */
static char *observe(int fd, const char *op, off_t size)
{
	struct stat st;

	if (strcmp(op, "fstat") == 0)
		return fstat(fd, &st) < 0 ? g_strdup(errno_name(errno)) :
			g_strdup_printf("%c:%lld", type_char(st.st_mode), (long long)st.st_size);
	if (strcmp(op, "seek_end") == 0)
		return seek_result(fd, 0, SEEK_END);
	if (strcmp(op, "seek_data") == 0)
		return seek_result(fd, 0, SEEK_DATA);
	if (strcmp(op, "seek_hole") == 0)
		return seek_result(fd, 0, SEEK_HOLE);
	if (strcmp(op, "pread") == 0)
		return sha256_pread(fd);
	if (strcmp(op, "mmap") == 0)
		return sha256_mapped_size(fd, size);
	return sha256_sent(fd, size);
}

static void free_line(gpointer line)
{
	g_string_free(line, TRUE);
}

/*
 * Opens every view file and waits for stdin to end (the caller may change
 * SOURCE meanwhile), then for each operation in turn waits seconds
 * (past the view's timeout, so that the kernel asks the daemon again) and
 * compares what it answers through each open file with the reference.
 */
static int handles(int seconds, int argc, char **argv)
{
	int n = argc / 2, bad = 0, opened = 0;
	char byte;
	g_autofree int *fds = g_new(int, n);
	g_autofree off_t *sizes = g_new(off_t, n);
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(free_line);

	for (int i = 0; i < n; i++) {
		struct stat st;

		if (stat(argv[2 * i], &st) < 0) {
			fprintf(stderr, "svprobe: cannot stat %s\n", argv[2 * i]);
			return 2;
		}
		sizes[i] = st.st_size;
		fds[i] = open(argv[2 * i + 1], O_RDONLY | O_CLOEXEC);
		g_ptr_array_add(lines, g_string_new(argv[2 * i + 1]));
		if (fds[i] < 0)
			g_string_append_printf(lines->pdata[i], " open=%s", errno_name(errno));
		else
			opened++;
	}
	printf("opened %d\n", opened);
	fflush(stdout);
	while (read(0, &byte, 1) > 0)
		;
	for (size_t k = 0; k < G_N_ELEMENTS(handle_ops); k++) {
		sleep((unsigned)seconds);
		for (int i = 0; i < n; i++) {
			int ref = open_noatime(argv[2 * i], O_RDONLY);
			g_autofree char *want = NULL, *got = NULL;

			if (ref < 0) {
				fprintf(stderr, "svprobe: cannot open %s\n", argv[2 * i]);
				return 2;
			}
			want = observe(ref, handle_ops[k], sizes[i]);
			close(ref);
			if (fds[i] < 0)
				continue;
			got = observe(fds[i], handle_ops[k], sizes[i]);
			if (strcmp(want, got) != 0)
				g_string_append_printf(lines->pdata[i], " %s=%s (want %s)",
						       handle_ops[k], got, want);
		}
	}
	for (int i = 0; i < n; i++) {
		GString *line = lines->pdata[i];

		if (line->len == strlen(argv[2 * i + 1]))
			g_string_append(line, " ok");
		else
			bad++;
		printf("%s\n", line->str);
		if (fds[i] >= 0)
			close(fds[i]);
	}
	return bad ? 1 : 0;
}

static GPtrArray *soak_files, *soak_dirs;

static void collect_entry(const char *root, const char *rel, const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		g_ptr_array_add(soak_files, g_strdup(rel));
	else if (S_ISDIR(st->st_mode))
		g_ptr_array_add(soak_dirs, g_strdup(rel));
}

struct soak_counts {
	unsigned long ops, bytes, mismatches, errors;
};

static void soak_report(struct soak_counts *c, bool mismatch, const char *what,
			const char *rel, int err)
{
	g_autofree char *p = printable(rel);

	if (mismatch) {
		c->mismatches++;
		fprintf(stderr, "soak: mismatch: %s %s\n", what, p);
	} else {
		c->errors++;
		fprintf(stderr, "soak: error: %s %s: %s\n", what, p, errno_name(err));
	}
}

/* Reads one file through the view in random pieces and compares each with SOURCE. */
static void soak_read(const char *src, const char *view, const char *rel, bool direct,
		      GRand *rng, struct soak_counts *c)
{
	g_autofree char *spath = g_build_filename(src, rel, NULL);
	g_autofree char *vpath = g_build_filename(view, rel, NULL);
	int sfd = open_noatime(spath, O_RDONLY);
	int vfd = open(vpath, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
	const size_t max_chunk = 1 << 18;
	void *sbuf = NULL, *vbuf = NULL;
	struct stat st;

	if (sfd < 0 || fstat(sfd, &st) < 0) {
		fprintf(stderr, "soak: cannot read SOURCE's %s\n", spath);
		exit(2);
	}
	if (vfd < 0) {
		soak_report(c, false, "open", rel, errno);
		goto out;
	}
	if (posix_memalign(&sbuf, 4096, max_chunk) || posix_memalign(&vbuf, 4096, max_chunk))
		abort();
	/* Half the time the whole file in order, else a few random pieces. */
	bool sequential = g_rand_boolean(rng);
	off_t pos = 0;
	for (int piece = 0; sequential ? pos < st.st_size || piece == 0 : piece < 8; piece++) {
		size_t len = (size_t)g_rand_int_range(rng, 1, max_chunk + 1);
		ssize_t sn, vn;

		if (!sequential)
			pos = st.st_size ? (off_t)(g_rand_double(rng) * (double)st.st_size) : 0;
		if (direct) {
			/* O_DIRECT may want aligned offsets and sizes. */
			pos &= ~(off_t)4095;
			len = (len + 4095) & ~(size_t)4095;
		}
		sn = pread(sfd, sbuf, len, pos);
		vn = pread(vfd, vbuf, len, pos);
		if (vn < 0) {
			soak_report(c, false, "pread", rel, errno);
			break;
		}
		if (sn != vn || memcmp(sbuf, vbuf, (size_t)vn) != 0) {
			soak_report(c, true, "bytes", rel, 0);
			break;
		}
		c->bytes += (unsigned long)vn;
		pos += vn;
		if (vn == 0)
			break;
	}
	if (!direct)
		posix_fadvise(vfd, 0, 0, POSIX_FADV_DONTNEED);
out:
	free(sbuf);
	free(vbuf);
	if (vfd >= 0)
		close(vfd);
	close(sfd);
}

static void soak_stat(const char *src, const char *view, const char *rel, struct soak_counts *c)
{
	g_autofree char *spath = g_build_filename(src, rel, NULL);
	g_autofree char *vpath = g_build_filename(view, rel, NULL);
	struct stat s, v;

	if (lstat(spath, &s) < 0)
		exit(2);
	if (lstat(vpath, &v) < 0) {
		soak_report(c, false, "lstat", rel, errno);
		return;
	}
	if (s.st_mode != v.st_mode || s.st_size != v.st_size || s.st_nlink != v.st_nlink ||
	    s.st_mtim.tv_sec != v.st_mtim.tv_sec || s.st_mtim.tv_nsec != v.st_mtim.tv_nsec)
		soak_report(c, true, "lstat", rel, 0);
}

static GPtrArray *list_dir(const char *path)
{
	DIR *dp = opendir_noatime(path);
	GPtrArray *names;
	struct dirent *d;

	if (!dp)
		return NULL;
	names = g_ptr_array_new_with_free_func(g_free);
	while ((d = readdir(dp)))
		g_ptr_array_add(names, g_strdup(d->d_name));
	closedir(dp);
	g_ptr_array_sort(names, cmp_names);
	return names;
}

static void soak_list(const char *src, const char *view, const char *rel, struct soak_counts *c)
{
	g_autofree char *spath = *rel ? g_build_filename(src, rel, NULL) : g_strdup(src);
	g_autofree char *vpath = *rel ? g_build_filename(view, rel, NULL) : g_strdup(view);
	g_autoptr(GPtrArray) s = list_dir(spath);
	g_autoptr(GPtrArray) v = list_dir(vpath);

	if (!s)
		exit(2);
	if (!v) {
		soak_report(c, false, "readdir", rel, errno);
		return;
	}
	for (guint i = 0; i < s->len; i++)
		if (i >= v->len || strcmp(s->pdata[i], v->pdata[i]) != 0) {
			soak_report(c, true, "readdir", rel, 0);
			return;
		}
	if (s->len != v->len)
		soak_report(c, true, "readdir", rel, 0);
}

static int soak(const char *role, const char *src, const char *view, int seconds,
		guint32 seed)
{
	g_autoptr(GRand) rng = g_rand_new_with_seed(seed);
	struct soak_counts c = { 0 };
	gint64 end = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;

	soak_files = g_ptr_array_new_with_free_func(g_free);
	soak_dirs = g_ptr_array_new_with_free_func(g_free);
	walk(src, "", collect_entry);
	if (soak_files->len == 0)
		return 2;
	while (g_get_monotonic_time() < end) {
		const char *file = soak_files->pdata[g_rand_int_range(rng, 0, soak_files->len)];
		const char *dir = soak_dirs->pdata[g_rand_int_range(rng, 0, soak_dirs->len)];

		if (strcmp(role, "read") == 0 || strcmp(role, "direct") == 0)
			soak_read(src, view, file, role[0] == 'd', rng, &c);
		else if (strcmp(role, "stat") == 0)
			soak_stat(src, view, g_rand_boolean(rng) ? file : dir, &c);
		else if (strcmp(role, "list") == 0)
			soak_list(src, view, dir, &c);
		else
			return 2;
		c.ops++;
	}
	printf("soak %s: ops=%lu bytes=%lu mismatches=%lu errors=%lu\n", role, c.ops, c.bytes,
	       c.mismatches, c.errors);
	return 0;
}

#define STORM_ERRNOS 256

struct storm {
	long calls;
	const char *name;
	char **paths;
	int npaths;
	/* Answers by errno, 0 for a value; updated with atomic adds. */
	long answers[STORM_ERRNOS];
};

static gpointer storm_thread(gpointer data)
{
	struct storm *s = data;
	char value[256];

	for (long i = 0; i < s->calls; i++) {
		const char *path = s->paths[i % s->npaths];
		ssize_t len = i % 2 ? lgetxattr(path, s->name, value, sizeof(value)) :
				      lgetxattr(path, s->name, NULL, 0);
		int err = len < 0 ? errno : 0;

		__atomic_add_fetch(&s->answers[err < STORM_ERRNOS ? err : STORM_ERRNOS - 1], 1,
				   __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Many getxattr calls at once, for answers that must not depend on contention. */
static int getxattr_storm(int threads, long calls, const char *name, int npaths, char **paths)
{
	struct storm s = { .calls = calls, .name = name, .paths = paths, .npaths = npaths };
	g_autofree GThread **t = g_new(GThread *, threads);

	for (int i = 0; i < threads; i++)
		t[i] = g_thread_new("storm", storm_thread, &s);
	for (int i = 0; i < threads; i++)
		g_thread_join(t[i]);
	printf("calls=%ld", (long)threads * calls);
	for (int err = 0; err < STORM_ERRNOS; err++)
		if (s.answers[err])
			printf(" %s=%ld", err ? errno_name(err) : "ok", s.answers[err]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: svprobe tree|files|owners|times|noatime-open|write-attempts|deep|try-open|mksock|hold|share|mkchain|rmchain|hold-dir|hold-handle|node-id|handles|read-cached|soak|getxattr-storm ARG...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (strcmp(argv[1], "tree") == 0)
		walk(argv[2], "", print_tree_entry);
	else if (strcmp(argv[1], "files") == 0)
		walk(argv[2], "", print_file_entry);
	else if (strcmp(argv[1], "owners") == 0)
		walk(argv[2], "", print_owner_entry);
	else if (strcmp(argv[1], "times") == 0)
		walk(argv[2], "", print_times_entry);
	else if (strcmp(argv[1], "noatime-open") == 0)
		return noatime_open(argc - 2, argv + 2);
	else if (strcmp(argv[1], "write-attempts") == 0)
		return write_attempts(argv[2]);
	else if (strcmp(argv[1], "deep") == 0)
		return deep(argv[2]);
	else if (strcmp(argv[1], "try-open") == 0)
		return try_open(argc - 2, argv + 2);
	else if (strcmp(argv[1], "mksock") == 0)
		return mksock(argv[2]);
	else if (strcmp(argv[1], "hold") == 0)
		return hold(argc - 2, argv + 2);
	else if (strcmp(argv[1], "share") == 0 && argc == 4 && atoi(argv[3]) > 0)
		return share(argv[2], atoi(argv[3]));
	else if (strcmp(argv[1], "mkchain") == 0 && argc == 4)
		return mkchain(argv[2], atol(argv[3]));
	else if (strcmp(argv[1], "rmchain") == 0)
		return rmchain(argv[2]);
	else if (strcmp(argv[1], "hold-dir") == 0 && argc == 5)
		return hold_dir(argv[2], atol(argv[3]), argv[4]);
	else if (strcmp(argv[1], "hold-handle") == 0 && argc == 3)
		return hold_handle(argv[2]);
	else if (strcmp(argv[1], "node-id") == 0)
		return node_ids(argc - 2, argv + 2);
	else if (strcmp(argv[1], "handles") == 0 && argc >= 5 && argc % 2 == 1)
		return handles(atoi(argv[2]), argc - 3, argv + 3);
	else if (strcmp(argv[1], "read-cached") == 0)
		return read_cached(argc - 2, argv + 2);
	else if (strcmp(argv[1], "soak") == 0 && argc == 7)
		return soak(argv[2], argv[3], argv[4], atoi(argv[5]), (guint32)atoi(argv[6]));
	else if (strcmp(argv[1], "getxattr-storm") == 0 && argc >= 6 && atoi(argv[2]) > 0)
		return getxattr_storm(atoi(argv[2]), atol(argv[3]), argv[4], argc - 5, argv + 5);
	else {
		fprintf(stderr, "svprobe: unknown command '%s'\n", argv[1]);
		return 2;
	}
	return 0;
}
