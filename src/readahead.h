/*
 * Reads small files' data ahead of a reader.  A reader going through a
 * store path's files (cp -r, tar, a guest booting over 9p) waits for
 * SOURCE's disk once per file, each wait behind the view's round trips.
 * Once a file is read from its start through the view (for a file read by
 * passthrough, which the daemon never sees read: once it is released with
 * its data in memory, having been opened without), a thread goes on
 * from its directory as a depth-first reader would (the directory's
 * entries and subdirectories in listing order, then what follows it in
 * each directory above, up to the store path) and asks SOURCE for the
 * data of each small regular file with readahead(2), so that the disk
 * reads run while the reader is still on earlier files.
 *
 * The thread stays within a window: it reads ahead at most
 * SV_READAHEAD_WINDOW bytes more than readers have read through the view
 * since it started.  It gives up on a store path whose files it finds
 * already in memory, where it would only cost CPU, unless readers opened
 * more files since it started than it has passed: they are ahead of it,
 * and it goes on past what they have read.  A first read in another store
 * path moves it there.
 * Opening files without reading them (open+close, stat) starts nothing.
 */
#ifndef STOREVIEW_READAHEAD_H
#define STOREVIEW_READAHEAD_H

#include <stdbool.h>
#include <sys/types.h>
#include <glib.h>

/* Files larger than this are left to the kernel's own read-ahead. */
#define SV_READAHEAD_MAX_FILE_SIZE (1024 * 1024)
#define SV_READAHEAD_WINDOW (32 * 1024 * 1024)
/*
 * Files in a row found already in memory (SOURCE is in the page cache)
 * after which the walk gives up.
 */
#define SV_READAHEAD_MAX_CACHED_RUN 64
/* Directories above the one read in that the walk goes on in. */
#define SV_READAHEAD_MAX_LEVELS 32

struct sv_readahead;

/* NULL, with *error set unless error is NULL, if the thread could not be started. */
struct sv_readahead *sv_readahead_new(char **error);

/*
 * Whether the thread walks, or walked last, the store path whose top-level
 * directory is (store_dev, store_ino).
 */
bool sv_readahead_in(struct sv_readahead *ra, dev_t store_dev, ino_t store_ino);

/*
 * A reader read a file from its start in a directory of that store path:
 * the walk goes on from there unless the thread is in that store path
 * already.  dir_fds (taken, with the fds) holds that directory and the
 * ones above it, up to the store path, open O_RDONLY; fewer if some could
 * not be opened.  An empty array starts nothing.
 */
void sv_readahead_start(struct sv_readahead *ra, GArray *dir_fds, dev_t store_dev,
			ino_t store_ino);

/* Bytes read through the view: the window moves on. */
void sv_readahead_consumed(struct sv_readahead *ra, size_t bytes);

/* A reader opened a regular file through the view: it moves on. */
void sv_readahead_opened(struct sv_readahead *ra);

/*
 * Bytes of the file open as fd that are in the page cache, asked without
 * reading; -1 where the kernel cannot tell (before Linux 6.5).
 */
long long sv_readahead_cached_bytes(int fd);

/* Files read ahead so far. */
unsigned long sv_readahead_count(struct sv_readahead *ra);

/*
 * Whether the thread waits, for a start or for readers to move the window,
 * and nothing since would let it go on: it reads nothing more until one of
 * the calls above.  Tests wait for it before they look at what was read.
 */
bool sv_readahead_idle(struct sv_readahead *ra);

/* Stops the thread.  NULL is allowed. */
void sv_readahead_free(struct sv_readahead *ra);

#endif
