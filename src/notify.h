/*
 * What the daemon tells the kernel outside any request, from threads of its
 * own (the top-level watch, the closure reload), and how those threads end.
 */
#ifndef STOREVIEW_NOTIFY_H
#define STOREVIEW_NOTIFY_H

#include <pthread.h>

#include "fs.h"

/*
 * Joins a thread that sends the kernel invalidation notices, once the loop
 * has stopped.  Such a notice waits for the directory's lock, which a lookup
 * that no thread will answer now may hold: after a grace period the
 * connection is aborted, as by umount -f, which ends that lookup.
 */
void sv_notify_join(struct sv_fs *fs, pthread_t thread, const char *what);

#endif
