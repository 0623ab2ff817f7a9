/*
 * What the daemon tells the kernel outside any request, from threads of its
 * own (the top-level watch, the closure reload), and how those threads end.
 */
#ifndef STOREVIEW_NOTIFY_H
#define STOREVIEW_NOTIFY_H

#include <pthread.h>

#include "fs.h"

/*
 * Makes the kernel forget these names of the root, which left the view, and
 * the root's attributes and listing.
 */
void sv_notify_forget_top_level(struct sv_fs *fs, GPtrArray *names);

/*
 * Makes the kernel forget entries (struct sv_inode_entry) at and below
 * top-level ones that left the view, and their attributes, pages and
 * listings: requests through them are refused already, and this spares
 * the kernel asking.
 */
void sv_notify_forget_entries(struct sv_fs *fs, GArray *entries);

/*
 * Joins a thread that sends the kernel invalidation notices, once the loop
 * has stopped.  Such a notice waits for the directory's lock, which a lookup
 * that no thread will answer now may hold: after a grace period the
 * connection is aborted, as by umount -f, which ends that lookup.
 */
void sv_notify_join(struct sv_fs *fs, pthread_t thread, const char *what);

#endif
