/*
 * Kernel ABI newer than the headers storeview may be built against.  Each
 * definition is made only where configure found the system's headers
 * without it; whether the running kernel has the feature is learnt at run
 * time (INIT's flags, ENOSYS).
 */
#ifndef STOREVIEW_COMPAT_H
#define STOREVIEW_COMPAT_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/fuse.h>

/* Passthrough: FUSE protocol 7.40, Linux 6.9. */
#if !HAVE_DECL_FUSE_PASSTHROUGH
#define FUSE_PASSTHROUGH (1ULL << 37)
#endif
#if !HAVE_DECL_FOPEN_PASSTHROUGH
#define FOPEN_PASSTHROUGH (1 << 7)
#endif
#ifndef HAVE_STRUCT_FUSE_BACKING_MAP
struct fuse_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#endif
#if !HAVE_DECL_FUSE_DEV_IOC_BACKING_OPEN
#define FUSE_DEV_IOC_BACKING_OPEN _IOW(FUSE_DEV_IOC_MAGIC, 1, struct fuse_backing_map)
#endif
#if !HAVE_DECL_FUSE_DEV_IOC_BACKING_CLOSE
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)
#endif
/* Members of 7.40 that older headers call padding, named for member access and offsetof. */
#ifdef HAVE_STRUCT_FUSE_INIT_OUT_MAX_STACK_DEPTH
#define SV_INIT_OUT_MAX_STACK_DEPTH max_stack_depth
#else
#define SV_INIT_OUT_MAX_STACK_DEPTH unused[0]
#endif
#ifdef HAVE_STRUCT_FUSE_OPEN_OUT_BACKING_ID
#define SV_OPEN_OUT_BACKING_ID backing_id
#else
#define SV_OPEN_OUT_BACKING_ID padding
#endif

/* cachestat(2): Linux 6.5. */
#if !HAVE_DECL___NR_CACHESTAT
#define __NR_cachestat 451
#endif
#ifdef HAVE_STRUCT_CACHESTAT
#include <linux/mman.h>
#else
struct cachestat_range {
	uint64_t off, len;
};
struct cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
#endif

#endif
