/* Opening SOURCE, the directory the view shows, and its files. */
#ifndef STOREVIEW_SOURCE_H
#define STOREVIEW_SOURCE_H

#include <sys/stat.h>

/*
 * Returns an O_PATH fd of SOURCE, or -1 with *error set.  Where the daemon
 * may (root), the fd lies on a private, detached copy of SOURCE's mount
 * that is read-only, noatime, nosuid, nodev, noexec and nosymfollow: the
 * daemon itself then cannot change anything under SOURCE, atimes included,
 * nor follow any of its symlinks.  Elsewhere SOURCE is used as it is
 * mounted, with a warning if that lets reads change its atimes.
 */
int sv_source_open(const char *source, char **error);

/*
 * Opens name in dirfd, a directory of SOURCE, for reading with flags (which
 * must hold O_NOFOLLOW), if it is a regular file: returns the fd, with st
 * its fstat, or a negative errno, -ESTALE if the name now holds something
 * else.  A fifo or device that took the name since it was looked up never
 * blocks the caller: the open does not wait, and the type is checked after.
 */
int sv_source_open_file(int dirfd, const char *name, int flags, struct stat *st);

#endif
