/* Opening SOURCE, the directory the view shows. */
#ifndef STOREVIEW_SOURCE_H
#define STOREVIEW_SOURCE_H

/*
 * Returns an O_PATH fd of SOURCE, or -1 with *error set.  Where the daemon
 * may (root), the fd lies on a private, detached copy of SOURCE's mount
 * that is read-only, noatime, nosuid, nodev, noexec and nosymfollow: the
 * daemon itself then cannot change anything under SOURCE, atimes included,
 * nor follow any of its symlinks.  Elsewhere SOURCE is used as it is
 * mounted, with a warning if that lets reads change its atimes.
 */
int sv_source_open(const char *source, char **error);

#endif
