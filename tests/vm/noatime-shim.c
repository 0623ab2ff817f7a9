/*
 * noatime-shim.c: LD_PRELOAD shim that makes QEMU's 9p server keep an
 * O_NOATIME open that the host kernel refused with EPERM as a failure.
 *
 * QEMU 5.1 and later (hw/9pfs/9p-util.h, openat_file()) retry an openat()
 * that failed with EPERM without O_NOATIME, so an unprivileged QEMU reads a
 * root-owned store fine even though the guest asked for O_NOATIME.  Kernels
 * and QEMU builds without that retry fail the guest's open instead, which is
 * what storeview exists to avoid.  This shim brings the failure back: when
 * openat() with O_NOATIME fails with EPERM, the very next open call of the
 * same thread, if it is the same (dirfd, name, flags) minus O_NOATIME, fails
 * with EPERM as well.
 *
 * openat_file() calls openat(), which glibc's headers turn into openat64 on
 * Debian's x86_64 build (nm -D shows openat64, open64 and __open64_2, and
 * only openat64 is on the 9p open path); openat is wrapped too in case
 * another build binds to it.  At exit the counts go to stderr, so the test
 * can tell that the shim was loaded and whether it refused anything.
 *
 * Build: cc -shared -fPIC -O2 -o noatime-shim.so noatime-shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef int (*openat_fn)(int, const char *, int, ...);

/* The last O_NOATIME open of this thread that failed with EPERM. */
struct refused_open {
	int valid;
	int dirfd;
	int flags;
	char name[PATH_MAX];
};

static __thread struct refused_open last;
static unsigned long noatime_eperm;
static unsigned long retries_refused;

static int needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

static int shim_openat(const char *sym, int dirfd, const char *name, int flags, mode_t mode)
{
	openat_fn real = (openat_fn)dlsym(RTLD_NEXT, sym);
	int is_retry;
	int fd;

	if (!real) {
		errno = ENOSYS;
		return -1;
	}

	is_retry = last.valid && !(flags & O_NOATIME) && last.dirfd == dirfd &&
		   last.flags == (flags | O_NOATIME) && strcmp(last.name, name) == 0;
	/* Only the call right after the refused one counts as its retry. */
	last.valid = 0;
	if (is_retry) {
		__atomic_add_fetch(&retries_refused, 1, __ATOMIC_RELAXED);
		errno = EPERM;
		return -1;
	}

	fd = real(dirfd, name, flags, mode);
	if (fd == -1 && errno == EPERM && (flags & O_NOATIME) && strlen(name) < sizeof(last.name)) {
		__atomic_add_fetch(&noatime_eperm, 1, __ATOMIC_RELAXED);
		last.valid = 1;
		last.dirfd = dirfd;
		last.flags = flags;
		strcpy(last.name, name);
		errno = EPERM;
	}
	return fd;
}

/* Both entry points are variadic: each reads its own mode argument. */
#define WRAP_OPENAT(sym)                                                   \
	int sym(int dirfd, const char *name, int flags, ...)               \
	{                                                                  \
		mode_t mode = 0;                                           \
		if (needs_mode(flags)) {                                   \
			va_list ap;                                        \
			va_start(ap, flags);                               \
			mode = va_arg(ap, mode_t);                         \
			va_end(ap);                                        \
		}                                                          \
		return shim_openat(#sym, dirfd, name, flags, mode);        \
	}

WRAP_OPENAT(openat64)
WRAP_OPENAT(openat)

__attribute__((destructor)) static void report(void)
{
	char line[128];
	int len;

	len = snprintf(line, sizeof(line), "noatime-shim: noatime_eperm=%lu retries_refused=%lu\n",
		       __atomic_load_n(&noatime_eperm, __ATOMIC_RELAXED),
		       __atomic_load_n(&retries_refused, __ATOMIC_RELAXED));
	if (len > 0 && write(STDERR_FILENO, line, (size_t)len) < 0)
		return;
}
