/*
 * libFuzzer target: the request handlers themselves.  Each input starts a
 * libfuse session on sv_ops over a small fixture store (made once, see
 * make_fixture()), with replies going to memory through
 * fuse_session_custom_io() instead of /dev/fuse, sends it INIT and then a
 * sequence of requests decoded from the input, and ends it as an unmount
 * would: every handle released, every lookup forgotten.
 *
 * The harness plays the kernel: it uses only node ids and handles that
 * replies gave, never forgets more lookups than replies counted, nor a node
 * that has an open handle; everything else (names, offsets, sizes, flags,
 * callers) comes from the input as it could from a client.  In passthrough
 * mode it also plays the kernel's side of the backing-file ioctls.  It
 * checks what the kernel relies on: one reply per request (none for
 * FORGET) within REQUEST_SECONDS, no reply larger than asked, one way of
 * reading each open node, listings of valid names, attributes and data that
 * match the fixture, access granted and refused as SOURCE would (by the
 * daemon, and by the kernel from the modes shown), and that the end leaves
 * no inode and no fd behind.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib.h>
#include <linux/fuse.h>

#include "closure_view.h"
#include "compat.h"
#include "fs.h"
#include "virtfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQUESTS 256
#define MAX_HANDLES 32
#define MAX_OFFSETS 32
#define MAX_BACKING 64		/* backing files registered at once */
#define MAX_READ (1024 * 1024)
#define MAX_READDIR (128 * 1024)
#define MAX_XATTR 65536		/* XATTR_SIZE_MAX, XATTR_LIST_MAX: what the kernel passes on */

/* The first input byte: how the view is set up. */
enum {
	MODE_VIRTFS = 1 << 0,
	MODE_NO_OPEN = 1 << 1,
	MODE_PREFETCH = 1 << 2,
	MODE_CLOSURE = 1 << 3,
	MODE_NO_OPENDIR = 1 << 4,
	MODE_FEW_DIR_FDS = 1 << 5,
	MODE_PASSTHROUGH = 1 << 6,
};

/* The low 5 bits of a request's first byte. */
enum {
	OP_LOOKUP, OP_GETATTR, OP_OPEN, OP_READ, OP_READDIR, OP_READDIRPLUS,
	OP_GETXATTR, OP_LISTXATTR, OP_READLINK, OP_RELEASE, OP_FORGET,
	OP_BATCH_FORGET, OP_STATFS, OP_OPENDIR, OP_RELEASEDIR, OP_FLUSH,
	OP_CHANGE_STORE, OP_LIST_ALL, OP_RELOAD_CLOSURE, OP_COUNT
};

/* Its high 3 bits: who asks. */
static const struct { uid_t uid; gid_t gid; } callers[8] = {
	{ 0, 0 }, { 65534, 65534 }, { 1000, 1000 }, { 1000, 65534 },
	{ 1001, 1000 }, { 65534, 0 }, { 0, 1000 }, { 2000, 2000 },
};

/* Names a lookup or getxattr picks from; a few more bytes give any other. */
static const char *const names[] = {
	"aaa-pkg", "bin", "hello", "link", "share", "doc.txt", "hard", "big", "sparse",
	"fifo", "empty", "many", "bbb-secret", "secret", "acl-file", "acl-dir", "ccc-link",
	"ddd-file", "dangling", "null", "e001", "e050", ".", "..", "", "/", "aaa-pkg/bin",
};
static const char *const xattr_names[] = {
	"user.a", "user.long", "user.missing", "system.posix_acl_access",
	"system.posix_acl_default", "trusted.hidden", "security.capability",
	"user.virtfs.uid", "user.virtfs.gid", "user.virtfs.mode", "user.virtfs.rdev", "",
};
/*
 * What SOURCE's owner may do under a running view (a store path collected,
 * made again, a file replaced, a directory moved out) and how it is undone.
 * The path becomes what with: a fifo in a file's place must not block an
 * open (issue 17), which would stop the run, not fail it.
 */
enum replacement { NOTHING, A_FILE, A_DIR, A_SYMLINK_OUT, A_FIFO };
static const struct { const char *path; enum replacement with; } changes[] = {
	{ "aaa-pkg/share/doc.txt", A_FILE }, { "aaa-pkg/bin", A_FILE },
	{ "aaa-pkg/many/e001", NOTHING }, { "aaa-pkg/share", NOTHING },
	{ "ddd-file", A_SYMLINK_OUT }, { "aaa-pkg", A_DIR }, { "aaa-pkg/share/big", A_DIR },
	{ "aaa-pkg/bin/link", A_SYMLINK_OUT }, { "aaa-pkg/bin/hello", A_FIFO },
	{ "aaa-pkg/many/e050", A_FIFO },
};
/* Outside SOURCE: no reply may ever hold it. */
#define CANARY "c4n4ry-0f-the-w0rld-0utside"

/*
 * The top-level entries the closure of MODE_CLOSURE may list, as bits of
 * struct harness's closure: it starts with the first three, and
 * OP_RELOAD_CLOSURE changes it.
 */
static const char *const closure_names[] = { "aaa-pkg", "ccc-link", "ddd-file", "bbb-secret" };
#define FIRST_CLOSURE 07u

struct node {
	uint64_t id;
	uint64_t nlookup;	/* lookups the kernel would hold */
	mode_t type;		/* as the view shows it */
	char *path;		/* relative to the store; "" for the root */
};

struct handle {
	uint64_t fh;
	uint64_t node;
	bool dir;
	bool kernel_only;	/* no_open: the kernel opened it alone, fh 0, no RELEASE */
	int backing;		/* the backing file the open named, or 0 */
	int backing_fd;		/* the kernel's own reference to it, or -1 */
};

struct input {
	const uint8_t *p;
	size_t n;
};

struct harness {
	struct sv_options opts;
	struct sv_fs fs;
	struct fuse_session *se;
	unsigned int mode;
	GByteArray *replies;		/* what the session wrote since the last request */
	uint64_t unique;
	struct node *nodes;		/* grows: replies decide how many */
	unsigned int nnodes, room;
	struct handle handles[MAX_HANDLES];
	unsigned int nhandles;
	uint64_t offsets[MAX_OFFSETS];	/* listing offsets replies gave */
	unsigned int noffsets;
	uid_t uid;
	gid_t gid;
	unsigned int changed;		/* how many of changes[] were made, in order made */
	unsigned int change_order[G_N_ELEMENTS(changes)];
	/* MODE_PASSTHROUGH: the kernel's backing files, by id - 1; -1 for none. */
	int backing[MAX_BACKING];
	int refusal;			/* the kernel's answer to the next registration */
	unsigned int closure;		/* MODE_CLOSURE: the bits of closure_names[] listed */
};

/* FUZZ_TRACE=1 in the environment: each request and its answer on stderr. */
static bool trace;

/*
 * A request that never returns (a handler blocked on a fifo, say) would
 * stop the run, not fail it: watchdog() fails it after this long.
 */
#define REQUEST_SECONDS 10
static gint64 request_started;	/* g_get_monotonic_time(), 0 between requests */
static uint32_t request_opcode;

static struct {
	char *scratch;
	char *store;
	char *closure;
	char *outside;		/* a file and a directory holding CANARY */
	char *held;		/* where changed entries wait to be put back */
} fixture;

static void G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN broken(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz_requests: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* Input bytes; zeros once it is used up. */
static uint64_t take(struct input *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

/* ---- the fixture store ---- */

static void write_file(const char *path, size_t size, unsigned int seed)
{
	g_autofree char *data = g_malloc(size + 1);

	for (size_t i = 0; i < size; i++)
		data[i] = (char)('a' + (i * 7 + seed + i / 251) % 26);
	if (!g_file_set_contents(path, data, (gssize)size, NULL))
		broken("cannot write %s", path);
}

static char *at(const char *rel)
{
	return g_build_filename(fixture.store, rel, NULL);
}

#define MAKE(call, rel) do { \
		g_autofree char *p_ = at(rel); \
		if ((call) < 0) \
			broken("fixture %s: %s", p_, g_strerror(errno)); \
	} while (0)
#define P p_

/* Best effort: ownership, devices, ACLs and trusted.* need root or a capable fs. */
#define TRY(call, rel) do { \
		g_autofree char *p_ = at(rel); \
		(void)(call); \
	} while (0)

/* A POSIX ACL in the kernel's xattr form: user:65534 denied, others read. */
static void set_acl(const char *rel, bool dir)
{
	struct { uint16_t tag, perm; uint32_t id; } e[] = {
		{ 0x01, 7, UINT32_MAX }, { 0x02, 0, 65534 }, { 0x04, 5, UINT32_MAX },
		{ 0x10, 5, UINT32_MAX }, { 0x20, 5, UINT32_MAX },
	};
	char buf[4 + sizeof(e)];
	uint32_t version = 2;

	memcpy(buf, &version, 4);
	memcpy(buf + 4, e, sizeof(e));
	TRY(lsetxattr(P, "system.posix_acl_access", buf, sizeof(buf), 0), rel);
	if (dir)
		TRY(lsetxattr(P, "system.posix_acl_default", buf, sizeof(buf), 0), rel);
}

static void make_fixture(void)
{
	char long_value[300];
	g_autofree char *tmpl = g_build_filename(g_get_tmp_dir(), "storeview-fuzz-XXXXXX", NULL);

	fixture.scratch = g_mkdtemp(g_strdup(tmpl));
	if (!fixture.scratch)
		broken("cannot make a scratch directory: %s", g_strerror(errno));
	fixture.store = g_build_filename(fixture.scratch, "store", NULL);
	fixture.closure = g_build_filename(fixture.scratch, "closure", NULL);
	if (mkdir(fixture.store, 0755) < 0)
		broken("cannot make %s: %s", fixture.store, g_strerror(errno));

	MAKE(mkdir(P, 0755), "aaa-pkg");
	MAKE(mkdir(P, 0755), "aaa-pkg/bin");
	MAKE(mkdir(P, 0755), "aaa-pkg/share");
	MAKE(mkdir(P, 0755), "aaa-pkg/many");
	{ g_autofree char *p = at("aaa-pkg/bin/hello"); write_file(p, 100, 1); chmod(p, 0755); }
	MAKE(symlink("hello", P), "aaa-pkg/bin/link");
	{ g_autofree char *p = at("aaa-pkg/share/doc.txt"); write_file(p, 5000, 2); }
	{ g_autofree char *p = at("aaa-pkg/share/big"); write_file(p, 200 * 1024 + 17, 3); }
	{ g_autofree char *p = at("aaa-pkg/share/empty"); write_file(p, 0, 0); }
	MAKE(truncate(P, 0), "aaa-pkg/share/empty");
	{
		g_autofree char *p = at("aaa-pkg/share/sparse");
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0 || pwrite(fd, "end", 3, (off_t)1 << 32) != 3)
			broken("fixture %s: %s", p, g_strerror(errno));
		close(fd);
	}
	{
		g_autofree char *from = at("aaa-pkg/share/doc.txt"), *to = at("aaa-pkg/share/hard");

		if (link(from, to) < 0)
			broken("fixture %s: %s", to, g_strerror(errno));
	}
	MAKE(mkfifo(P, 0644), "aaa-pkg/share/fifo");
	TRY(mknod(P, S_IFCHR | 0644, makedev(1, 3)), "aaa-pkg/share/null");
	MAKE(lsetxattr(P, "user.a", "1", 1, 0), "aaa-pkg/share/doc.txt");
	memset(long_value, 'v', sizeof(long_value));
	MAKE(lsetxattr(P, "user.long", long_value, sizeof(long_value), 0), "aaa-pkg/share/doc.txt");
	MAKE(lsetxattr(P, "user.a", "dir", 3, 0), "aaa-pkg/share");
	TRY(lsetxattr(P, "trusted.hidden", "t", 1, 0), "aaa-pkg/share/doc.txt");
	for (int i = 0; i < 100; i++) {
		g_autofree char *rel = g_strdup_printf("aaa-pkg/many/e%03d-%s", i,
						       "padding-to-fill-pages-of-listings");
		g_autofree char *p = at(rel);

		write_file(p, (size_t)i, (unsigned int)i);
	}
	{ g_autofree char *p = at("aaa-pkg/many/e001"); write_file(p, 1, 1); }
	{ g_autofree char *p = at("aaa-pkg/many/e050"); write_file(p, 50, 50); }

	/* Another user's: what root reaches and others do not. */
	MAKE(mkdir(P, 0750), "bbb-secret");
	{ g_autofree char *p = at("bbb-secret/secret"); write_file(p, 64, 9); chmod(p, 0600); }
	{ g_autofree char *p = at("bbb-secret/acl-file"); write_file(p, 64, 10); chmod(p, 0644); }
	MAKE(mkdir(P, 0755), "bbb-secret/acl-dir");
	TRY(lchown(P, 1000, 1000), "bbb-secret/secret");
	TRY(lchown(P, 1000, 1000), "bbb-secret");
	set_acl("bbb-secret/acl-file", false);
	set_acl("bbb-secret/acl-dir", true);

	MAKE(symlink("aaa-pkg", P), "ccc-link");
	{ g_autofree char *p = at("ddd-file"); write_file(p, 4096, 4); }
	MAKE(symlink("/nonexistent/target", P), "dangling");

	fixture.outside = g_build_filename(fixture.scratch, "outside", NULL);
	fixture.held = g_build_filename(fixture.scratch, "held", NULL);
	if (mkdir(fixture.held, 0700) < 0 || mkdir(fixture.outside, 0755) < 0)
		broken("cannot make %s: %s", fixture.outside, g_strerror(errno));
	{
		g_autofree char *file = g_build_filename(fixture.outside, "file", NULL);

		if (!g_file_set_contents(file, CANARY, -1, NULL) ||
		    lsetxattr(file, "user.a", CANARY, strlen(CANARY), 0) < 0 ||
		    lsetxattr(fixture.outside, "user.a", CANARY, strlen(CANARY), 0) < 0)
			broken("cannot write %s: %s", file, g_strerror(errno));
	}
}

static void remove_tree(const char *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const char *name;

	while (dir && (name = g_dir_read_name(dir))) {
		g_autofree char *child = g_build_filename(path, name, NULL);
		struct stat st;

		if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(child);
		else
			unlink(child);
	}
	rmdir(path);
}

static void remove_entry(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
		remove_tree(path);
	else
		unlink(path);
}

static void remove_fixture(void)
{
	remove_tree(fixture.scratch);
}

static char *held_path(unsigned int change)
{
	return g_strdup_printf("%s/%u", fixture.held, change);
}

/* Makes changes[k] in SOURCE, if its path is still there. */
static void change_store(struct harness *h, unsigned int k)
{
	g_autofree char *path = at(changes[k].path), *held = held_path(k);
	g_autofree char *file = NULL;

	for (unsigned int i = 0; i < h->changed; i++)
		if (h->change_order[i] == k)
			return;
	if (rename(path, held) < 0)
		return;
	h->change_order[h->changed++] = k;
	switch (changes[k].with) {
	case NOTHING:
		break;
	case A_FILE:
		write_file(path, 10, 5);
		break;
	case A_DIR:
		file = g_build_filename(path, "inner", NULL);
		if (mkdir(path, 0755) < 0)
			broken("cannot make %s: %s", path, g_strerror(errno));
		write_file(file, 10, 6);
		break;
	case A_SYMLINK_OUT:
		file = g_build_filename(fixture.outside, "file", NULL);
		if (symlink(k % 2 ? fixture.outside : file, path) < 0)
			broken("cannot make %s: %s", path, g_strerror(errno));
		break;
	case A_FIFO:
		if (mkfifo(path, 0644) < 0)
			broken("cannot make %s: %s", path, g_strerror(errno));
		break;
	}
}

/* Puts SOURCE back as it was, undoing the changes last made first. */
static void restore_store(struct harness *h)
{
	while (h->changed) {
		unsigned int k = h->change_order[--h->changed];
		g_autofree char *path = at(changes[k].path), *held = held_path(k);

		remove_entry(path);
		if (rename(held, path) < 0)
			broken("cannot put %s back: %s", path, g_strerror(errno));
	}
}

/* ---- talking to the session ---- */

/* libfuse passes the session's user data: the harness's sv_fs. */
static ssize_t sink_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct harness *h = (void *)((char *)userdata - offsetof(struct harness, fs));
	ssize_t total = 0;

	for (int i = 0; i < count; i++) {
		if (iov[i].iov_len)
			g_byte_array_append(h->replies, iov[i].iov_base, (guint)iov[i].iov_len);
		total += (ssize_t)iov[i].iov_len;
	}
	return total;
}

static ssize_t sink_read(int fd, void *buf, size_t len, void *userdata)
{
	errno = ENODEV;
	return -1;
}

/*
 * The kernel's side of passthrough (MODE_PASSTHROUGH).  The daemon
 * registers backing files with ioctls on its /dev/fuse fd, which the
 * session's fd is not here: scripts/fuzz links this target with
 * --wrap=ioctl, so that the daemon's ioctls come here, and the harness
 * answers those on the session's fd as the kernel does.
 */
static struct harness *running;

int __wrap_ioctl(int fd, unsigned long request, ...);
int __real_ioctl(int fd, unsigned long request, ...);

/* FUSE_DEV_IOC_BACKING_OPEN: the kernel keeps its own reference to the file. */
static int backing_open(struct harness *h, const struct fuse_backing_map *map)
{
	int flags = fcntl(map->fd, F_GETFL);
	struct stat st;

	if (map->flags || map->padding)
		broken("a backing file registered with flags %#x", map->flags);
	if (flags < 0 || fstat(map->fd, &st) < 0)
		broken("a backing file registered as fd %d: %s", map->fd, g_strerror(errno));
	if (!S_ISREG(st.st_mode) || (flags & (O_ACCMODE | O_PATH)) != O_RDONLY)
		broken("a backing file of mode %o registered open with flags %#x", st.st_mode,
		       flags);
	if (h->refusal) {
		errno = -h->refusal;
		return -1;
	}
	for (int id = 1; id <= MAX_BACKING; id++) {
		if (h->backing[id - 1] < 0) {
			h->backing[id - 1] = fcntl(map->fd, F_DUPFD_CLOEXEC, 0);
			if (h->backing[id - 1] < 0)
				broken("cannot keep a backing file: %s", g_strerror(errno));
			return id;
		}
	}
	broken("more than %d backing files registered", MAX_BACKING);
}

static bool backing_registered(const struct harness *h, int id)
{
	return id > 0 && id <= MAX_BACKING && h->backing[id - 1] >= 0;
}

/* FUSE_DEV_IOC_BACKING_CLOSE */
static int backing_close(struct harness *h, const uint32_t *id)
{
	if (!backing_registered(h, (int)*id))
		broken("backing file %u unregistered, which is not registered", *id);
	close(h->backing[*id - 1]);
	h->backing[*id - 1] = -1;
	return 0;
}

int __wrap_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!running || fd != fuse_session_fd(running->se))
		return __real_ioctl(fd, request, arg);
	if (!(running->mode & MODE_PASSTHROUGH))
		broken("ioctl %#lx on /dev/fuse without passthrough", request);
	if (request == FUSE_DEV_IOC_BACKING_OPEN)
		return backing_open(running, arg);
	if (request == FUSE_DEV_IOC_BACKING_CLOSE)
		return backing_close(running, arg);
	broken("ioctl %#lx on /dev/fuse", request);
}

static void log_to_stderr(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vfprintf(stderr, fmt, ap);
	/* libfuse says so when a handler misuses a reply (a bad error value, say). */
	if (level <= FUSE_LOG_ERR)
		broken("libfuse logged an error (above)");
}

struct reply {
	int error;		/* negative errno, or 0 */
	const uint8_t *data;	/* after the header, valid until the next request */
	size_t len;
};

/*
 * Sends one request, arg1 then arg2, and returns its reply: exactly one
 * message answering it (none for a forget).
 */
static struct reply request(struct harness *h, uint32_t opcode, uint64_t nodeid,
			    const void *arg1, size_t len1, const void *arg2, size_t len2)
{
	size_t len = sizeof(struct fuse_in_header) + len1 + len2;
	/* libfuse reads the arguments in place: keep them aligned. */
	g_autofree uint64_t *mem = g_malloc0(len + sizeof(uint64_t));
	struct fuse_in_header *in = (void *)mem;
	struct fuse_buf buf = { .size = len, .mem = mem };
	const struct fuse_out_header *out;
	bool no_reply = opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET;

	*in = (struct fuse_in_header){
		.len = (uint32_t)len, .opcode = opcode, .unique = ++h->unique,
		.nodeid = nodeid, .uid = h->uid, .gid = h->gid, .pid = (uint32_t)getpid(),
	};
	if (len1)
		memcpy((char *)(in + 1), arg1, len1);
	if (len2)
		memcpy((char *)(in + 1) + len1, arg2, len2);
	g_byte_array_set_size(h->replies, 0);
	__atomic_store_n(&request_opcode, opcode, __ATOMIC_RELAXED);
	__atomic_store_n(&request_started, g_get_monotonic_time(), __ATOMIC_RELEASE);
	fuse_session_process_buf(h->se, &buf);
	__atomic_store_n(&request_started, 0, __ATOMIC_RELEASE);

	if (trace)
		fprintf(stderr, "request %llu: opcode %u node %#llx uid %u: %d, %u bytes\n",
			(unsigned long long)in->unique, opcode, (unsigned long long)nodeid, h->uid,
			h->replies->len >= sizeof(*out) ? ((const struct fuse_out_header *)h->replies->data)->error : 0,
			h->replies->len);
	if (h->replies->len && memmem(h->replies->data, h->replies->len, CANARY, strlen(CANARY)))
		broken("opcode %u: a reply holds what lies outside SOURCE", opcode);
	if (no_reply) {
		if (h->replies->len)
			broken("opcode %u: a reply to a forget", opcode);
		return (struct reply){ 0 };
	}
	if (h->replies->len < sizeof(*out))
		broken("opcode %u: no reply", opcode);
	out = (const void *)h->replies->data;
	if (out->len != h->replies->len)
		broken("opcode %u: %u bytes written, the header says %u (two replies?)",
		       opcode, h->replies->len, out->len);
	if (out->unique != in->unique)
		broken("opcode %u: reply to request %llu, not %llu", opcode,
		       (unsigned long long)out->unique, (unsigned long long)in->unique);
	if (out->error > 0 || out->error <= -4096)
		broken("opcode %u: error %d", opcode, out->error);
	if (out->error && out->len != sizeof(*out))
		broken("opcode %u: an error with a payload", opcode);
	return (struct reply){ out->error, (const uint8_t *)(out + 1), out->len - sizeof(*out) };
}

static void expect_len(const struct reply *r, size_t len, const char *what)
{
	if (r->error == 0 && r->len != len)
		broken("%s: a reply of %zu bytes, not %zu", what, r->len, len);
}

/* ---- what the kernel knows ---- */

static struct node *find_node(struct harness *h, uint64_t id)
{
	for (unsigned int i = 0; i < h->nnodes; i++)
		if (h->nodes[i].id == id)
			return &h->nodes[i];
	return NULL;
}

static char *child_path(const char *parent, const char *name)
{
	return *parent ? g_strdup_printf("%s/%s", parent, name) : g_strdup(name);
}

static char *real_path(const struct node *node)
{
	return at(node->path);
}

static bool name_is_component(const char *name, size_t len)
{
	return len > 0 && len <= NAME_MAX && !memchr(name, '/', len) && !memchr(name, '\0', len) &&
	       !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}

static bool listed(unsigned int closure, const char *name, size_t len)
{
	for (size_t i = 0; i < G_N_ELEMENTS(closure_names); i++)
		if ((closure & (1u << i)) && strlen(closure_names[i]) == len &&
		    memcmp(closure_names[i], name, len) == 0)
			return true;
	return false;
}

static bool in_closure(const struct harness *h, const char *name, size_t len)
{
	return listed(h->closure, name, len);
}

/* Whether path (not the root) is below a store path that closure does not list. */
static bool outside(unsigned int closure, const char *path)
{
	const char *slash = strchr(path, '/');

	return *path && !listed(closure, path, slash ? (size_t)(slash - path) : strlen(path));
}

/* Whether a closure reload took path's store path out of the view. */
static bool revoked(const struct harness *h, const char *path)
{
	return h->opts.closure_path && outside(h->closure, path);
}

/* The type the view shows for an entry of SOURCE of this real type. */
static mode_t shown_type(const struct harness *h, mode_t real)
{
	if (h->opts.virtfs_xattrs && sv_virtfs_shown_as_file(real))
		return S_IFREG;
	return real & S_IFMT;
}

/*
 * The kernel's own answer for SOURCE's entry at path: whether the caller
 * (with this process's supplementary groups, which the daemon reads for
 * it) may access it so, by its mode and ACL alone; -1 if that cannot be
 * asked (not root, SOURCE changed, or the entry is not of that type).
 */
static int source_allows(const struct harness *h, const char *path, mode_t type, int how)
{
	g_autofree char *real = at(path);
	struct stat st;
	int fd, allowed;

	if (geteuid() != 0 || h->changed)
		return -1;
	fd = open(real, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != type) {
		close(fd);
		return -1;
	}
	setfsgid(h->gid);
	setfsuid(h->uid);
	allowed = faccessat(fd, "", how, AT_EMPTY_PATH | AT_EACCESS) == 0;
	setfsuid(0);
	setfsgid(0);
	close(fd);
	return allowed;
}

/* An answer of 0 or -EACCES must be SOURCE's. */
static void check_access(const struct harness *h, const char *path, mode_t type, int how,
			 int error, const char *what)
{
	int allowed;

	if (error != 0 && error != -EACCES)
		return;
	allowed = source_allows(h, path, type, how);
	if (allowed >= 0 && allowed != (error == 0))
		broken("%s '%s' by %u:%u: %s, SOURCE %s", what, path, h->uid, h->gid,
		       error ? "refused" : "allowed", allowed ? "allows" : "refuses");
}

/*
 * The kernel decides from the mode shown, without asking the daemon, what
 * anyone but the view's owner and group may do (its other bits): that must
 * be no more than SOURCE lets the caller do.  Not for an entry virtfs shows
 * as a file: its content is made, not SOURCE's.
 */
static void check_shown_mode(const struct harness *h, const char *path, mode_t real,
			     uint32_t shown, const char *what)
{
	if (h->uid == 0 || h->uid == h->opts.uid || h->gid == h->opts.gid ||
	    (shown & S_IFMT) != (real & S_IFMT))
		return;
	if ((shown & S_IROTH) && source_allows(h, path, real & S_IFMT, R_OK) == 0)
		broken("%s '%s': mode %o lets %u:%u read, SOURCE does not", what, path,
		       shown & 07777, h->uid, h->gid);
	if ((shown & S_IXOTH) && source_allows(h, path, real & S_IFMT, X_OK) == 0)
		broken("%s '%s': mode %o lets %u:%u search or run it, SOURCE does not", what,
		       path, shown & 07777, h->uid, h->gid);
}

/* Checks attributes against SOURCE's entry at path (relative to the store). */
static void check_attr(const struct harness *h, const char *path, const struct fuse_attr *attr,
		       const char *what)
{
	g_autofree char *real = at(path);
	struct stat st;

	if (attr->uid != h->opts.uid || attr->gid != h->opts.gid)
		broken("%s '%s': owner %u:%u, not the view's", what, path, attr->uid, attr->gid);
	/* SOURCE changed: the view may show the old entry or the new one. */
	if (h->changed)
		return;
	if (lstat(real, &st) < 0)
		broken("%s '%s': attributes of an entry SOURCE does not have", what, path);
	if (attr->ino != st.st_ino)
		broken("%s '%s': inode %llu, SOURCE's is %llu", what, path,
		       (unsigned long long)attr->ino, (unsigned long long)st.st_ino);
	if ((attr->mode & S_IFMT) != shown_type(h, st.st_mode))
		broken("%s '%s': type %o, SOURCE's is %o", what, path, attr->mode & S_IFMT,
		       st.st_mode & S_IFMT);
	if (S_ISREG(st.st_mode) && attr->size != (uint64_t)st.st_size)
		broken("%s '%s': size %llu, SOURCE's is %lld", what, path,
		       (unsigned long long)attr->size, (long long)st.st_size);
	check_shown_mode(h, path, st.st_mode, attr->mode, what);
}

/*
 * A reply counted one lookup of name in parent as entry: the kernel now
 * holds it.  The same id must always stand for the same name.
 */
static void entered(struct harness *h, const char *parent, const char *name, size_t len,
		    const struct fuse_entry_out *entry, const char *what)
{
	g_autofree char *cname = g_strndup(name, len);
	g_autofree char *path = NULL;
	struct node *node;

	if (!name_is_component(name, len))
		broken("%s: an entry named '%s'", what, cname);
	if (h->opts.closure_path && !*parent && !in_closure(h, name, len))
		broken("%s: '%s' is outside the closure", what, cname);
	if (entry->nodeid == 0 || entry->nodeid == FUSE_ROOT_ID)
		broken("%s '%s': node id %llu", what, cname, (unsigned long long)entry->nodeid);
	path = child_path(parent, cname);
	check_attr(h, path, &entry->attr, what);
	node = find_node(h, entry->nodeid);
	if (node) {
		if (strcmp(node->path, path) != 0)
			broken("%s: node id %llu stands for '%s' and '%s'", what,
			       (unsigned long long)entry->nodeid, node->path, path);
		node->nlookup++;
		return;
	}
	if (h->nnodes == h->room) {
		h->room = h->room ? 2 * h->room : 64;
		h->nodes = g_renew(struct node, h->nodes, h->room);
	}
	h->nodes[h->nnodes++] = (struct node){
		.id = entry->nodeid, .nlookup = 1, .type = entry->attr.mode & S_IFMT,
		.path = g_steal_pointer(&path),
	};
}

static void forgot(struct harness *h, struct node *node, uint64_t count)
{
	node->nlookup -= count;
	if (node->nlookup == 0 && node->id != FUSE_ROOT_ID) {
		g_free(node->path);
		*node = h->nodes[--h->nnodes];
	}
}

static bool node_is_open(const struct harness *h, uint64_t id)
{
	for (unsigned int i = 0; i < h->nhandles; i++)
		if (h->handles[i].node == id)
			return true;
	return false;
}

typedef bool node_filter(const struct harness *h, const struct node *node);

static bool any_node(const struct harness *h, const struct node *node)
{
	return true;
}

static bool dir_node(const struct harness *h, const struct node *node)
{
	return S_ISDIR(node->type);
}

static bool forgettable_node(const struct harness *h, const struct node *node)
{
	return node->id != FUSE_ROOT_ID && node->nlookup > 0 && !node_is_open(h, node->id);
}

/* A node the input picks among those filter accepts, or NULL. */
static struct node *pick_node(struct harness *h, struct input *in, node_filter *filter)
{
	unsigned int n = 0, k;

	for (unsigned int i = 0; i < h->nnodes; i++)
		n += filter(h, &h->nodes[i]);
	if (n == 0)
		return NULL;
	k = (unsigned int)take(in, 1) % n;
	for (unsigned int i = 0; i < h->nnodes; i++)
		if (filter(h, &h->nodes[i]) && k-- == 0)
			return &h->nodes[i];
	return NULL;
}

static struct handle *pick_handle(struct harness *h, struct input *in, bool dir)
{
	unsigned int n = 0, k;

	for (unsigned int i = 0; i < h->nhandles; i++)
		n += h->handles[i].dir == dir;
	if (n == 0)
		return NULL;
	k = (unsigned int)take(in, 1) % n;
	for (unsigned int i = 0; i < h->nhandles; i++)
		if (h->handles[i].dir == dir && k-- == 0)
			return &h->handles[i];
	return NULL;
}

static struct handle *handle_of(struct harness *h, uint64_t node, bool dir)
{
	for (unsigned int i = 0; i < h->nhandles; i++)
		if (h->handles[i].node == node && h->handles[i].dir == dir)
			return &h->handles[i];
	return NULL;
}

static void add_handle(struct harness *h, uint64_t fh, uint64_t node, bool dir, bool kernel_only)
{
	h->handles[h->nhandles++] = (struct handle){ fh, node, dir, kernel_only, 0, -1 };
}

static void drop_handle(struct harness *h, struct handle *handle)
{
	if (handle->backing_fd >= 0)
		close(handle->backing_fd);
	*handle = h->handles[--h->nhandles];
}

/* A name from the list, or (from byte 200 up) any bytes, up to past NAME_MAX. */
static char *take_name(struct input *in, const char *const *list, size_t count)
{
	unsigned int pick = (unsigned int)take(in, 1);
	size_t len;
	char *name;

	if (pick < 200)
		return g_strdup(list[pick % count]);
	len = (size_t)take(in, 2) % (NAME_MAX + 40);
	len = MIN(len, in->n);
	name = g_strndup((const char *)in->p, len);
	in->p += len;
	in->n -= len;
	return name;
}

/* 0, an offset a listing gave, or any. */
static uint64_t take_offset(struct harness *h, struct input *in)
{
	unsigned int pick = (unsigned int)take(in, 1);

	if (pick < 64)
		return 0;
	if (pick < 192 && h->noffsets)
		return h->offsets[pick % h->noffsets];
	return take(in, 8) & INT64_MAX;
}

static void learn_offset(struct harness *h, uint64_t off)
{
	if (h->noffsets < MAX_OFFSETS)
		h->offsets[h->noffsets++] = off;
	else
		h->offsets[off % MAX_OFFSETS] = off;
}

/* ---- the requests ---- */

/*
 * After a closure reload took a store path out of the view, nothing below
 * it may be reached again through the inodes the kernel still holds:
 * revocation (issue 17).  Files already open keep reading.
 */
static void check_revoked(const struct harness *h, const char *path, const struct reply *r,
			  const char *what)
{
	if (r->error == 0 && revoked(h, path))
		broken("%s '%s': answered, though a closure reload removed it", what, path);
}

static void do_lookup(struct harness *h, struct input *in)
{
	struct node *parent = pick_node(h, in, dir_node);
	g_autofree char *name = take_name(in, names, G_N_ELEMENTS(names));
	struct reply r;

	if (!parent)
		return;
	r = request(h, FUSE_LOOKUP, parent->id, name, strlen(name) + 1, NULL, 0);
	expect_len(&r, sizeof(struct fuse_entry_out), "lookup");
	check_access(h, parent->path, S_IFDIR, X_OK, r.error, "lookup in");
	check_revoked(h, parent->path, &r, "lookup in");
	if (r.error == 0)
		entered(h, parent->path, name, strlen(name), (const void *)r.data, "lookup");
}

static void do_getattr(struct harness *h, struct input *in)
{
	struct node *node = pick_node(h, in, any_node);
	struct fuse_getattr_in arg = { 0 };
	struct handle *handle;
	struct reply r;

	if (!node)
		return;
	/* The kernel passes the handle of an open regular file. */
	handle = handle_of(h, node->id, false);
	if (handle && S_ISREG(node->type) && (take(in, 1) & 1)) {
		arg.getattr_flags = FUSE_GETATTR_FH;
		arg.fh = handle->fh;
	}
	r = request(h, FUSE_GETATTR, node->id, &arg, sizeof(arg), NULL, 0);
	expect_len(&r, sizeof(struct fuse_attr_out), "getattr");
	if (!S_ISREG(node->type))
		check_revoked(h, node->path, &r, "getattr");
	/*
	 * An open file outlives its name, unless under no_open, where the
	 * daemon holds no open file and answers through the node.
	 */
	if (r.error == 0)
		check_attr(h, node->path, &((const struct fuse_attr_out *)r.data)->attr, "getattr");
	else if (!h->changed && (arg.getattr_flags || node->id == FUSE_ROOT_ID) &&
		 !(h->opts.no_open && revoked(h, node->path)))
		broken("getattr '%s' %s: error %d", node->path,
		       arg.getattr_flags ? "of an open file" : "", r.error);
}

/*
 * An open answered with a backing file: the kernel takes its own
 * reference to it, and reads it without the daemon.  It must be the
 * node's file.
 */
static void opened_by_passthrough(struct harness *h, const struct node *node,
				  struct handle *handle, int backing)
{
	g_autofree char *path = real_path(node);
	struct stat want, got;

	if (!backing_registered(h, backing))
		broken("open '%s': backing file %d, which is not registered", node->path, backing);
	handle->backing = backing;
	handle->backing_fd = fcntl(h->backing[backing - 1], F_DUPFD_CLOEXEC, 0);
	if (handle->backing_fd < 0 || fstat(handle->backing_fd, &got) < 0)
		broken("cannot keep a backing file: %s", g_strerror(errno));
	if (!h->changed && (lstat(path, &want) < 0 || want.st_dev != got.st_dev ||
			    want.st_ino != got.st_ino))
		broken("open '%s': backing file %d is another file", node->path, backing);
}

/*
 * The kernel reads an inode either by passthrough, from one backing file,
 * or through the daemon, never both at once: every open file of a node
 * must be read as the others are.
 */
static void check_same_backing(const struct harness *h, const struct node *node,
			       const struct handle *handle)
{
	for (unsigned int i = 0; i < h->nhandles; i++)
		if (h->handles[i].node == node->id && !h->handles[i].dir &&
		    h->handles[i].backing != handle->backing)
			broken("open '%s': backing file %d, while another open file of it has %d",
			       node->path, handle->backing, h->handles[i].backing);
}

static void do_open(struct harness *h, struct input *in)
{
	static const int flag_bits[] = {
		O_WRONLY, O_RDWR, O_NOATIME, O_DIRECT, O_NONBLOCK, O_TRUNC, O_APPEND, O_SYNC,
		O_LARGEFILE, O_NOFOLLOW, O_DIRECTORY, O_EXCL,
	};
	struct node *node = pick_node(h, in, any_node);
	unsigned int bits = (unsigned int)take(in, 2);
	struct fuse_open_in arg = { 0 };
	struct reply r;

	if (!node || h->nhandles == MAX_HANDLES)
		return;
	for (size_t i = 0; i < G_N_ELEMENTS(flag_bits); i++)
		if (bits & (1u << i))
			arg.flags |= (uint32_t)flag_bits[i];
	/* The kernel opens directories with OPENDIR. */
	if (S_ISDIR(node->type))
		return;
	if (h->mode & MODE_PASSTHROUGH) {
		unsigned int refusal = (unsigned int)take(in, 1);

		/* A backing file stacked too deep; a daemon without CAP_SYS_ADMIN. */
		h->refusal = refusal < 16 ? -ELOOP : refusal < 20 ? -EPERM : 0;
	}
	r = request(h, FUSE_OPEN, node->id, &arg, sizeof(arg), NULL, 0);
	expect_len(&r, sizeof(struct fuse_open_out), "open");
	if (!h->opts.no_open)
		check_access(h, node->path, S_IFREG, R_OK, r.error, "open");
	check_revoked(h, node->path, &r, "open");
	if (r.error == 0) {
		const struct fuse_open_out *out = (const void *)r.data;

		if (h->opts.no_open)
			broken("open '%s' answered under no_open", node->path);
		add_handle(h, out->fh, node->id, false, false);
		if (out->open_flags & FOPEN_PASSTHROUGH)
			opened_by_passthrough(h, node, &h->handles[h->nhandles - 1],
					      (int)out->SV_OPEN_OUT_BACKING_ID);
		check_same_backing(h, node, &h->handles[h->nhandles - 1]);
	} else if (r.error == -ENOSYS && h->opts.no_open && S_ISREG(node->type)) {
		/* The kernel then opens the file itself, with handle 0. */
		add_handle(h, 0, node->id, false, true);
	}
}

/* What a read at offset should give: SOURCE's bytes, or a virtfs entry's content. */
static GByteArray *expected_data(const struct harness *h, const struct node *node,
				 uint64_t offset, size_t size)
{
	g_autofree char *path = real_path(node);
	GByteArray *want = g_byte_array_sized_new((guint)size);
	struct stat st;

	if (lstat(path, &st) < 0)
		broken("read '%s': not in SOURCE", node->path);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t len = readlink(path, target, sizeof(target));

		if (len > 0 && offset < (uint64_t)len)
			g_byte_array_append(want, (guint8 *)target + offset,
					    (guint)MIN((uint64_t)len - offset, size));
	} else if (S_ISREG(st.st_mode)) {
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ssize_t n = 1;

		if (fd < 0)
			broken("read '%s': %s", node->path, g_strerror(errno));
		g_byte_array_set_size(want, (guint)size);
		for (size_t got = 0; got < size && n > 0; got += (size_t)n) {
			n = pread(fd, want->data + got, size - got, (off_t)(offset + got));
			if (n < 0)
				broken("read '%s': %s", node->path, g_strerror(errno));
			if (n == 0)
				g_byte_array_set_size(want, (guint)got);
		}
		close(fd);
	}
	return want;
}

/* A read by passthrough: the kernel reads the backing file, sending no READ. */
static void read_backing_file(struct harness *h, const struct node *node,
			      const struct handle *handle, uint64_t offset, uint32_t size)
{
	g_autofree uint8_t *got = g_malloc(MAX(size, 1));
	g_autoptr(GByteArray) want = NULL;
	ssize_t n = pread(handle->backing_fd, got, size, (off_t)offset);

	if (n < 0)
		broken("read '%s' by passthrough: %s", node->path, g_strerror(errno));
	if (trace)
		fprintf(stderr, "read by passthrough of backing file %d: %zd bytes\n",
			handle->backing, n);
	if (h->changed)
		return;
	want = expected_data(h, node, offset, size);
	/* A regular file's pread gives all that is there, short only at its end. */
	if ((size_t)n != want->len || (n && memcmp(got, want->data, (size_t)n) != 0))
		broken("read '%s' by passthrough of %u at %llu: %zd bytes, not SOURCE's %u",
		       node->path, size, (unsigned long long)offset, n, want->len);
}

static void do_read(struct harness *h, struct input *in)
{
	struct handle *handle = pick_handle(h, in, false);
	struct fuse_read_in arg = { 0 };
	g_autoptr(GByteArray) want = NULL;
	struct node *node;
	struct reply r;

	if (!handle)
		return;
	node = find_node(h, handle->node);
	arg.fh = handle->fh;
	arg.size = (uint32_t)(take(in, 3) % (MAX_READ + 1));
	arg.offset = (take(in, 1) & 1) ? take(in, 8) & INT64_MAX : take(in, 3);
	/* The kernel's own checks keep a read within the largest offset. */
	arg.offset = MIN(arg.offset, (uint64_t)INT64_MAX - arg.size);
	arg.flags = O_RDONLY;
	if (handle->backing) {
		read_backing_file(h, node, handle, arg.offset, arg.size);
		return;
	}
	r = request(h, FUSE_READ, handle->node, &arg, sizeof(arg), NULL, 0);
	if (r.len > arg.size)
		broken("read '%s': %zu bytes, more than the %u asked", node->path, r.len, arg.size);
	/* Under no_open each read goes through the node, which a reload may revoke. */
	if (h->changed || (handle->kernel_only && revoked(h, node->path)))
		return;
	if (r.error)
		broken("read '%s' at %llu: error %d", node->path,
		       (unsigned long long)arg.offset, r.error);
	want = expected_data(h, node, arg.offset, arg.size);
	if (r.len != want->len || (r.len && memcmp(r.data, want->data, r.len) != 0))
		broken("read '%s' of %u at %llu: %zu bytes, not SOURCE's %u", node->path,
		       arg.size, (unsigned long long)arg.offset, r.len, want->len);
}

/*
 * Checks a listing and learns what it holds: offsets, and entries with
 * lookups counted.  Adds the names to seen, if not NULL, and leaves the
 * last entry's offset in *last.
 */
static void parse_listing(struct harness *h, const char *dir, const struct reply *r,
			  uint32_t size, bool plus, GHashTable *seen, uint64_t *last)
{
	const char *what = plus ? "readdirplus" : "readdir";
	size_t at = 0;

	if (r->len > size)
		broken("%s '%s': %zu bytes, more than the %u asked", what, dir, r->len, size);
	while (at < r->len) {
		const struct fuse_entry_out *entry = NULL;
		const struct fuse_dirent *d;
		size_t head = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;

		if (r->len - at < head)
			broken("%s '%s': a truncated entry", what, dir);
		if (plus) {
			entry = (const void *)(r->data + at);
			d = &((const struct fuse_direntplus *)entry)->dirent;
		} else {
			d = (const void *)(r->data + at);
		}
		if (d->namelen == 0 || d->namelen > NAME_MAX || r->len - at < head + d->namelen)
			broken("%s '%s': an entry name of %u bytes", what, dir, d->namelen);
		bool dots = (d->namelen == 1 && d->name[0] == '.') ||
			    (d->namelen == 2 && d->name[0] == '.' && d->name[1] == '.');

		if (!dots && !name_is_component(d->name, d->namelen))
			broken("%s '%s': an entry named '%.*s'", what, dir, (int)d->namelen, d->name);
		if (!dots && h->opts.closure_path && !*dir && !in_closure(h, d->name, d->namelen))
			broken("%s: '%.*s' is outside the closure", what, (int)d->namelen, d->name);
		learn_offset(h, d->off);
		*last = d->off;
		if (seen && !g_hash_table_add(seen, g_strndup(d->name, d->namelen)))
			broken("%s '%s': '%.*s' listed twice", what, dir, (int)d->namelen, d->name);
		/* The kernel takes no lookup of . and .. nor of a node id 0. */
		if (entry && entry->nodeid && !dots)
			entered(h, dir, d->name, d->namelen, entry, what);
		at += plus ? FUSE_DIRENTPLUS_SIZE((const struct fuse_direntplus *)entry)
			   : FUSE_DIRENT_SIZE(d);
	}
	if (at != r->len)
		broken("%s '%s': entries overrun the reply", what, dir);
}

static void do_readdir(struct harness *h, struct input *in, bool plus)
{
	struct node *dir = pick_node(h, in, dir_node);
	struct fuse_read_in arg = { 0 };
	struct handle *handle;
	struct reply r;
	uint64_t last;

	if (!dir)
		return;
	handle = handle_of(h, dir->id, true);
	arg.fh = handle ? handle->fh : 0;
	arg.offset = take_offset(h, in);
	arg.size = (uint32_t)(take(in, 3) % (MAX_READDIR + 1));
	r = request(h, plus ? FUSE_READDIRPLUS : FUSE_READDIR, dir->id, &arg, sizeof(arg), NULL, 0);
	/* An empty listing tells nothing. */
	if (r.len)
		check_revoked(h, dir->path, &r, "readdir");
	/* dir->path, not dir: the node array may grow on the way. */
	if (r.error == 0)
		parse_listing(h, dir->path, &r, arg.size, plus, NULL, &last);
}

/* The names a listing of SOURCE's directory path shows. */
static GHashTable *names_in_source(const struct harness *h, const char *path)
{
	GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree char *real = at(path);
	DIR *dir = opendir(real);
	struct dirent *d;

	if (!dir)
		broken("cannot list %s: %s", real, g_strerror(errno));
	while ((d = readdir(dir)))
		if (!h->opts.closure_path || *path || in_closure(h, d->d_name, strlen(d->d_name)) ||
		    strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			g_hash_table_add(names, g_strdup(d->d_name));
	closedir(dir);
	return names;
}

/*
 * Lists a directory to its end as getdents does, each request from the
 * last entry's offset with at least a page: every name SOURCE has, once.
 */
static void do_list_all(struct harness *h, struct input *in)
{
	struct node *dir = pick_node(h, in, dir_node);
	bool plus = take(in, 1) & 1;
	struct fuse_read_in arg = { .size = 4096 + (uint32_t)take(in, 2) % (MAX_READDIR - 4096) };
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GHashTable) want = NULL;
	GHashTableIter iter;
	const char *path;
	gpointer name;
	uint64_t id;

	if (!dir)
		return;
	/* Not dir itself: the node array may grow on the way. */
	id = dir->id;
	path = dir->path;
	for (unsigned int i = 0;; i++) {
		struct reply r;

		if (i == 1000)
			broken("listing '%s': no end after %u requests", path, i);
		r = request(h, plus ? FUSE_READDIRPLUS : FUSE_READDIR, id, &arg, sizeof(arg), NULL, 0);
		if (r.len)
			check_revoked(h, path, &r, "listing");
		if (r.error && !h->changed && !revoked(h, path))
			broken("listing '%s': error %d", path, r.error);
		if (r.error || r.len == 0)
			break;
		parse_listing(h, path, &r, arg.size, plus, seen, &arg.offset);
	}
	if (h->changed || revoked(h, path))
		return;
	want = names_in_source(h, path);
	g_hash_table_iter_init(&iter, want);
	while (g_hash_table_iter_next(&iter, &name, NULL))
		if (!g_hash_table_contains(seen, name))
			broken("listing '%s': '%s' missing", path, (const char *)name);
	if (g_hash_table_size(seen) != g_hash_table_size(want))
		broken("listing '%s': %u names, SOURCE has %u", path, g_hash_table_size(seen),
		       g_hash_table_size(want));
}

static void do_getxattr(struct harness *h, struct input *in)
{
	struct node *node = pick_node(h, in, any_node);
	g_autofree char *name = take_name(in, xattr_names, G_N_ELEMENTS(xattr_names));
	struct fuse_getxattr_in arg = { .size = (uint32_t)(take(in, 3) % (MAX_XATTR + 1)) };
	struct reply r;

	if (!node)
		return;
	r = request(h, FUSE_GETXATTR, node->id, &arg, sizeof(arg), name, strlen(name) + 1);
	check_revoked(h, node->path, &r, "getxattr");
	if (r.error)
		return;
	if (arg.size == 0)
		expect_len(&r, sizeof(struct fuse_getxattr_out), "getxattr of the size");
	else if (r.len > arg.size)
		broken("getxattr '%s' %s: %zu bytes, more than the %u asked", node->path, name,
		       r.len, arg.size);
}

static void do_listxattr(struct harness *h, struct input *in)
{
	struct node *node = pick_node(h, in, any_node);
	struct fuse_getxattr_in arg = { .size = (uint32_t)(take(in, 3) % (MAX_XATTR + 1)) };
	struct reply r;

	if (!node)
		return;
	r = request(h, FUSE_LISTXATTR, node->id, &arg, sizeof(arg), NULL, 0);
	check_revoked(h, node->path, &r, "listxattr");
	if (r.error)
		return;
	if (arg.size == 0) {
		expect_len(&r, sizeof(struct fuse_getxattr_out), "listxattr of the size");
		return;
	}
	if (r.len > arg.size)
		broken("listxattr '%s': %zu bytes, more than the %u asked", node->path, r.len,
		       arg.size);
	if (r.len && r.data[r.len - 1] != '\0')
		broken("listxattr '%s': the list does not end with a NUL", node->path);
}

static void do_readlink(struct harness *h, struct input *in)
{
	struct node *node = pick_node(h, in, any_node);
	g_autofree char *path = NULL;
	char target[PATH_MAX];
	ssize_t len;
	struct reply r;

	if (!node)
		return;
	r = request(h, FUSE_READLINK, node->id, NULL, 0, NULL, 0);
	check_revoked(h, node->path, &r, "readlink");
	if (r.error || h->changed)
		return;
	path = real_path(node);
	len = readlink(path, target, sizeof(target));
	if (len < 0 || (size_t)len != r.len || memcmp(target, r.data, r.len) != 0)
		broken("readlink '%s': '%.*s', not SOURCE's", node->path, (int)r.len, r.data);
}

static void release(struct harness *h, struct handle *handle)
{
	struct fuse_release_in arg = { .fh = handle->fh, .flags = O_RDONLY };
	struct reply r;

	if (!handle->kernel_only) {
		r = request(h, handle->dir ? FUSE_RELEASEDIR : FUSE_RELEASE, handle->node,
			    &arg, sizeof(arg), NULL, 0);
		if (r.error)
			broken("release: error %d", r.error);
	}
	drop_handle(h, handle);
}

static void do_release(struct harness *h, struct input *in, bool dir)
{
	struct handle *handle = pick_handle(h, in, dir);

	if (handle)
		release(h, handle);
}

static void do_forget(struct harness *h, struct input *in)
{
	struct node *node = pick_node(h, in, forgettable_node);
	struct fuse_forget_in arg;

	if (!node)
		return;
	arg.nlookup = 1 + take(in, 2) % node->nlookup;
	request(h, FUSE_FORGET, node->id, &arg, sizeof(arg), NULL, 0);
	forgot(h, node, arg.nlookup);
}

static void batch_forget(struct harness *h, struct fuse_forget_one *list, uint32_t count)
{
	struct fuse_batch_forget_in arg = { .count = count };

	request(h, FUSE_BATCH_FORGET, 0, &arg, sizeof(arg), list, count * sizeof(*list));
	for (uint32_t i = 0; i < count; i++)
		forgot(h, find_node(h, list[i].nodeid), list[i].nlookup);
}

static void do_batch_forget(struct harness *h, struct input *in)
{
	struct fuse_forget_one list[8];
	uint32_t count = 0, want = 1 + (uint32_t)take(in, 1) % 8;

	/* The same node may come twice, as long as the total is held. */
	while (count < want) {
		struct node *node = pick_node(h, in, forgettable_node);
		uint64_t held;

		if (!node)
			break;
		held = node->nlookup;
		for (uint32_t i = 0; i < count; i++)
			if (list[i].nodeid == node->id)
				held -= list[i].nlookup;
		if (held == 0)
			break;
		list[count++] = (struct fuse_forget_one){ node->id, 1 + take(in, 1) % held };
	}
	if (count)
		batch_forget(h, list, count);
}

static void do_statfs(struct harness *h, struct input *in)
{
	struct node *node = pick_node(h, in, any_node);
	struct reply r;

	if (!node)
		return;
	r = request(h, FUSE_STATFS, node->id, NULL, 0, NULL, 0);
	if (r.error)
		broken("statfs: error %d", r.error);
	expect_len(&r, sizeof(struct fuse_statfs_out), "statfs");
}

static void do_opendir(struct harness *h, struct input *in)
{
	struct node *dir = pick_node(h, in, dir_node);
	struct fuse_open_in arg = { .flags = O_RDONLY | O_DIRECTORY };
	struct reply r;

	if (!dir || h->nhandles == MAX_HANDLES)
		return;
	r = request(h, FUSE_OPENDIR, dir->id, &arg, sizeof(arg), NULL, 0);
	expect_len(&r, sizeof(struct fuse_open_out), "opendir");
	if (r.error == 0)
		add_handle(h, ((const struct fuse_open_out *)r.data)->fh, dir->id, true, false);
	else if (r.error == -ENOSYS && !(h->mode & MODE_NO_OPENDIR))
		broken("opendir: ENOSYS though the kernel needs opendir");
}

/* The closure file, listing closure_names[] by the bits of closure. */
static void write_closure(unsigned int closure)
{
	g_autoptr(GString) list = g_string_new(NULL);

	for (size_t i = 0; i < G_N_ELEMENTS(closure_names); i++) {
		if (!(closure & (1u << i)))
			continue;
		/* Both forms a closure file may hold: a name, and a store path. */
		if (i % 2)
			g_string_append_printf(list, "%s/", fixture.store);
		g_string_append_printf(list, "%s\n", closure_names[i]);
	}
	if (!g_file_set_contents(fixture.closure, list->str, -1, NULL))
		broken("cannot write %s", fixture.closure);
}

/*
 * A reload of the closure file, as on SIGHUP: the kernel must be told to
 * forget every node it holds below a store path that left the view.
 */
static void do_reload_closure(struct harness *h, struct input *in)
{
	unsigned int closure = (unsigned int)take(in, 1) % (1u << G_N_ELEMENTS(closure_names));
	unsigned int was = h->closure;
	g_autoptr(GArray) told = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	g_autofree char *error = NULL;
	size_t at = 0;

	if (!h->opts.closure_path)
		return;
	write_closure(closure);
	g_byte_array_set_size(h->replies, 0);
	/* A closure it refuses (none left, say) leaves the old one in force. */
	if (sv_closure_view_load(&h->fs, &error) < 0)
		return;
	h->closure = closure;
	if (trace)
		fprintf(stderr, "closure reloaded: %#x, %u bytes of notices\n", closure,
			h->replies->len);
	/* Notices, each as the kernel reads them; their lengths keep no alignment. */
	while (at < h->replies->len) {
		struct fuse_out_header out;
		struct fuse_notify_inval_inode_out inode;
		struct fuse_notify_inval_entry_out entry;
		const uint8_t *body = h->replies->data + at + sizeof(out);

		if (h->replies->len - at < sizeof(out))
			broken("reload: a truncated notice");
		memcpy(&out, h->replies->data + at, sizeof(out));
		if (out.unique != 0 || out.len < sizeof(out) || out.len > h->replies->len - at)
			broken("reload: a message of %u bytes, unique %llu", out.len,
			       (unsigned long long)out.unique);
		if (out.error == FUSE_NOTIFY_INVAL_INODE &&
		    out.len == sizeof(out) + sizeof(inode)) {
			memcpy(&inode, body, sizeof(inode));
			g_array_append_val(told, inode.ino);
		} else if (out.error == FUSE_NOTIFY_INVAL_ENTRY &&
			   out.len > sizeof(out) + sizeof(entry)) {
			memcpy(&entry, body, sizeof(entry));
			if (out.len != sizeof(out) + sizeof(entry) + entry.namelen + 1 ||
			    !name_is_component((const char *)body + sizeof(entry), entry.namelen))
				broken("reload: a notice of an entry badly named");
		} else {
			broken("reload: notice %d of %u bytes", out.error, out.len);
		}
		at += out.len;
	}
	for (unsigned int i = 0; i < h->nnodes; i++) {
		bool inval = false;

		if (outside(was, h->nodes[i].path) || !outside(closure, h->nodes[i].path))
			continue;
		for (guint k = 0; k < told->len && !inval; k++)
			inval = g_array_index(told, uint64_t, k) == h->nodes[i].id;
		if (!inval)
			broken("reload: '%s' left the view, the kernel was not told",
			       h->nodes[i].path);
	}
}

static void do_change_store(struct harness *h, struct input *in)
{
	change_store(h, (unsigned int)take(in, 1) % G_N_ELEMENTS(changes));
}

static void do_flush(struct harness *h, struct input *in)
{
	struct handle *handle = pick_handle(h, in, false);
	struct fuse_flush_in arg = { 0 };

	if (!handle || handle->kernel_only)
		return;
	arg.fh = handle->fh;
	request(h, FUSE_FLUSH, handle->node, &arg, sizeof(arg), NULL, 0);
}

/* ---- one session ---- */

static int count_fds(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	int n = 0;

	while (dir && g_dir_read_name(dir))
		n++;
	return n;
}

static void start(struct harness *h, unsigned int mode)
{
	static const struct fuse_custom_io io = { .writev = sink_writev, .read = sink_read };
	char *argv[] = { "fuzz_requests", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct fuse_init_in init = {
		.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 128 * 1024,
		.flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
			 FUSE_PARALLEL_DIROPS | FUSE_CACHE_SYMLINKS | FUSE_MAX_PAGES |
			 FUSE_EXPORT_SUPPORT | FUSE_INIT_EXT,
	};
	char *error = NULL;
	struct reply r;

	h->mode = mode;
	h->opts = (struct sv_options){
		.source = fixture.store, .uid = 4242, .gid = 4343, .timeout = 1.0,
		.dir_fd_cache = (mode & MODE_FEW_DIR_FDS) ? 2 : SV_DEFAULT_DIR_FD_CACHE,
		.virtfs_xattrs = mode & MODE_VIRTFS, .no_open = mode & MODE_NO_OPEN,
		.closure_path = (mode & MODE_CLOSURE) ? fixture.closure : NULL,
		.store_dir = fixture.store, .no_passthrough = !(mode & MODE_PASSTHROUGH),
		.ready_fd = -1,
	};
	h->fs = (struct sv_fs){ .opts = &h->opts };
	g_rw_lock_init(&h->fs.closure_lock);
	h->fs.root_fd = open(fixture.store, O_PATH | O_DIRECTORY | O_CLOEXEC);
	h->fs.inodes = h->fs.root_fd < 0 ? NULL :
		       sv_inode_table_new(h->fs.root_fd, h->opts.dir_fd_cache);
	if (!h->fs.inodes)
		broken("cannot open the fixture: %s", g_strerror(errno));
	h->closure = FIRST_CLOSURE;
	if (mode & MODE_CLOSURE)
		write_closure(h->closure);
	if (sv_closure_view_load(&h->fs, &error) < 0)
		broken("closure: %s", error);
	if (mode & MODE_PREFETCH) {
		h->fs.prefetch = sv_prefetch_new(NULL);
		h->fs.readahead = sv_readahead_new(NULL);
	}
	h->se = fuse_session_new(&args, &sv_ops, sizeof(sv_ops), &h->fs);
	fuse_opt_free_args(&args);
	if (!h->se || fuse_session_custom_io(h->se, &io, open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		broken("cannot start a session");
	h->fs.se = h->se;
	for (int i = 0; i < MAX_BACKING; i++)
		h->backing[i] = -1;
	running = h;
	/* As the daemon does once the kernel offers passthrough at INIT. */
	if (mode & MODE_PASSTHROUGH) {
		h->fs.passthrough = sv_passthrough_new(h->se);
		sv_passthrough_enable(h->fs.passthrough);
	}
	h->fs.open_files = sv_open_files_new(h->fs.passthrough);
	h->replies = g_byte_array_new();
	h->room = 64;
	h->nodes = g_new(struct node, h->room);
	h->nodes[h->nnodes++] = (struct node){
		.id = FUSE_ROOT_ID, .nlookup = 1, .type = S_IFDIR, .path = g_strdup(""),
	};

	if (mode & MODE_NO_OPEN)
		init.flags |= FUSE_NO_OPEN_SUPPORT;
	if (mode & MODE_NO_OPENDIR)
		init.flags |= FUSE_NO_OPENDIR_SUPPORT;
	r = request(h, FUSE_INIT, 0, &init, sizeof(init), NULL, 0);
	if (r.error)
		broken("INIT: error %d", r.error);
}

/* Ends the session as an unmount does: handles released, then every lookup forgotten. */
static void stop(struct harness *h)
{
	g_autofree struct fuse_forget_one *list = g_new(struct fuse_forget_one, h->nnodes);
	uint32_t count = 0;
	unsigned int inodes, dir_fds;

	while (h->nhandles)
		release(h, &h->handles[0]);
	for (unsigned int i = 0; i < h->nnodes; i++)
		if (h->nodes[i].id != FUSE_ROOT_ID)
			list[count++] = (struct fuse_forget_one){ h->nodes[i].id, h->nodes[i].nlookup };
	if (count)
		batch_forget(h, list, count);
	sv_inode_table_counts(h->fs.inodes, &inodes, &dir_fds);
	if (inodes != 1 || dir_fds != 0)
		broken("every lookup forgotten, yet %u inodes and %u cached fds remain",
		       inodes, dir_fds);
	for (int id = 1; id <= MAX_BACKING; id++)
		if (backing_registered(h, id))
			broken("every file released, yet backing file %d is registered", id);

	running = NULL;
	fuse_session_destroy(h->se);
	sv_prefetch_free(h->fs.prefetch);
	sv_readahead_free(h->fs.readahead);
	sv_open_files_free(h->fs.open_files);
	sv_passthrough_free(h->fs.passthrough);
	sv_inode_table_free(h->fs.inodes);
	sv_closure_free(h->fs.closure);
	g_rw_lock_clear(&h->fs.closure_lock);
	g_byte_array_free(h->replies, TRUE);
	for (unsigned int i = 0; i < h->nnodes; i++)
		g_free(h->nodes[i].path);
	g_free(h->nodes);
	restore_store(h);
}

static gpointer watchdog(gpointer data)
{
	for (;;) {
		gint64 started = __atomic_load_n(&request_started, __ATOMIC_ACQUIRE);

		if (started && g_get_monotonic_time() - started > REQUEST_SECONDS * G_USEC_PER_SEC)
			broken("opcode %u: no reply after %d s", request_opcode, REQUEST_SECONDS);
		g_usleep(G_USEC_PER_SEC / 4);
	}
	return NULL;
}

static void quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *message,
		      gpointer data)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		broken("%s", message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct input in = { data, size };
	struct harness h = { 0 };
	int fds;

	if (!ready) {
		make_fixture();
		atexit(remove_fixture);
		fuse_set_log_func(log_to_stderr);
		trace = getenv("FUZZ_TRACE") != NULL;
		/* The handlers' own messages (debug, a missing closure entry) are noise here. */
		g_log_set_default_handler(quiet_log, NULL);
		g_thread_unref(g_thread_new("watchdog", watchdog, NULL));
		ready = true;
	}
	fds = count_fds();
	start(&h, (unsigned int)take(&in, 1));
	for (int i = 0; i < MAX_REQUESTS && in.n; i++) {
		unsigned int op = (unsigned int)take(&in, 1);

		h.uid = callers[op >> 5].uid;
		h.gid = callers[op >> 5].gid;
		switch ((op & 31) % OP_COUNT) {
		case OP_LOOKUP: do_lookup(&h, &in); break;
		case OP_GETATTR: do_getattr(&h, &in); break;
		case OP_OPEN: do_open(&h, &in); break;
		case OP_READ: do_read(&h, &in); break;
		case OP_READDIR: do_readdir(&h, &in, false); break;
		case OP_READDIRPLUS: do_readdir(&h, &in, true); break;
		case OP_GETXATTR: do_getxattr(&h, &in); break;
		case OP_LISTXATTR: do_listxattr(&h, &in); break;
		case OP_READLINK: do_readlink(&h, &in); break;
		case OP_RELEASE: do_release(&h, &in, false); break;
		case OP_FORGET: do_forget(&h, &in); break;
		case OP_BATCH_FORGET: do_batch_forget(&h, &in); break;
		case OP_STATFS: do_statfs(&h, &in); break;
		case OP_OPENDIR: do_opendir(&h, &in); break;
		case OP_RELEASEDIR: do_release(&h, &in, true); break;
		case OP_FLUSH: do_flush(&h, &in); break;
		case OP_CHANGE_STORE: do_change_store(&h, &in); break;
		case OP_LIST_ALL: do_list_all(&h, &in); break;
		case OP_RELOAD_CLOSURE: do_reload_closure(&h, &in); break;
		}
	}
	h.uid = h.gid = 0;
	stop(&h);
	if (count_fds() != fds)
		broken("%d fds before the session, %d after", fds, count_fds());
	return 0;
}
