/*
 * The top-level watcher: below its top level a store never changes, so the
 * kernel may cache entries there as long as it likes; but the top level
 * gains paths (builds, copies) and loses them (garbage collection), and the
 * view must follow at once.
 */
#ifndef STOREVIEW_WATCH_H
#define STOREVIEW_WATCH_H

#include "fs.h"

struct sv_watch;

/*
 * Watches SOURCE's root with inotify and invalidates the kernel's entries
 * for names that leave it, and refuses what clients hold below them (see
 * sv_inode_table_recheck()), from a thread of its own.  NULL, with *error
 * set, if inotify refuses (e.g. no instances left).
 */
struct sv_watch *sv_watch_start(struct sv_fs *fs, char **error);

/* Stops the thread; before the FUSE session goes away. */
void sv_watch_stop(struct sv_watch *watch);

#endif
