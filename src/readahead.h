/*
 * Reads small files' data ahead of a reader.  A reader going through a
 * directory's files (find -exec cat, tar, a guest booting over 9p) waits
 * for SOURCE's disk once per file, each wait behind a round trip through
 * the view.  Once a file of a directory has been read from its start, a
 * thread asks SOURCE for the data of the directory's other small regular
 * files (readahead(2)), in listing order, so that their disk reads run
 * while the reader is still on the first ones.
 *
 * Each directory is read ahead once, within a budget of bytes and files.
 * Opening files without reading them (open+close, stat) starts nothing.
 */
#ifndef STOREVIEW_READAHEAD_H
#define STOREVIEW_READAHEAD_H

#include <glib.h>

/* Files larger than this are left to the kernel's own read-ahead. */
#define SV_READAHEAD_MAX_FILE_SIZE (1024 * 1024)
/* What one directory may read ahead. */
#define SV_READAHEAD_MAX_BYTES (8 * 1024 * 1024)
#define SV_READAHEAD_MAX_FILES 1024
/* Directories waiting; beyond this the oldest is dropped. */
#define SV_READAHEAD_MAX_QUEUED 16

struct sv_readahead;

struct sv_readahead *sv_readahead_new(GError **error);

/*
 * Reads ahead the small files of the directory open (O_RDONLY) as dir_fd,
 * which it takes, before those of directories queued earlier.
 */
void sv_readahead_queue(struct sv_readahead *ra, int dir_fd);

/* Files read ahead so far. */
unsigned long sv_readahead_count(struct sv_readahead *ra);

/* Stops the thread, dropping what waits.  NULL is allowed. */
void sv_readahead_free(struct sv_readahead *ra);

#endif
