/* Checking MOUNTPOINT before mounting, and clearing a dead view from it. */
#ifndef STOREVIEW_MOUNTPOINT_H
#define STOREVIEW_MOUNTPOINT_H

#include <stdbool.h>

/*
 * Returns 0 when a view can be mounted on mountpoint, or -1 with *error
 * set: it is missing, not a directory, busy, inside source, or holds a
 * dead view ("transport endpoint is not connected"), which recover_stale
 * lazily unmounts instead.
 */
int sv_mountpoint_prepare(const char *mountpoint, const char *source,
			  bool recover_stale, char **error);

/* Lazily unmounts mountpoint (umount2 as root, else fusermount3 -uz). */
int sv_mountpoint_detach(const char *mountpoint, char **error);

/* True if path is a dead FUSE mount. */
bool sv_mountpoint_is_stale(const char *path);

#endif
