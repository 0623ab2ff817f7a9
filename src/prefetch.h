/*
 * Reads ahead of a walk.  A cold walk through the view waits, directory
 * by directory, for SOURCE's disk while one CPU idles: when a directory
 * is listed, a background thread lists its subdirectories and stats their
 * entries, so that the listings the walker asks for next find SOURCE's
 * metadata already in the kernel's caches.  Nothing read is kept here.
 * (The view does not read ahead from the root of a whole store, whose
 * every path a mere ls would then read; only from a closure's.)
 */
#ifndef STOREVIEW_PREFETCH_H
#define STOREVIEW_PREFETCH_H

#include <dirent.h>
#include <glib.h>

struct sv_prefetch;

/* NULL if no thread could be started (the view then simply does without). */
struct sv_prefetch *sv_prefetch_new(GError **error);

/*
 * Queues a look at the subdirectories names (of char *) of the open
 * directory dir, and takes both over.  With too much already queued, both
 * are dropped at once: a walker that outruns the thread needs no help.
 */
void sv_prefetch_queue(struct sv_prefetch *pf, DIR *dir, GPtrArray *names);

/* Directories read ahead so far. */
unsigned long sv_prefetch_count(struct sv_prefetch *pf);

/* Stops reading (what is queued is dropped), waits for the thread; NULL is fine. */
void sv_prefetch_free(struct sv_prefetch *pf);

#endif
