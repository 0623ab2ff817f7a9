/*
 * Reads ahead of a walk.  A walk through the view is one chain of
 * requests: the walker waits for each listing while the daemon reads the
 * directory and stats every entry, and that waits for SOURCE's disk.  A
 * background thread walks SOURCE ahead of the walker instead, in the order
 * a depth-first walker goes (each directory's subdirectories in listing
 * order), and keeps each directory's listing with every entry's lstat
 * ready.  The daemon then answers a listing from memory, without a
 * syscall per entry, once it has checked with one lstat that the
 * directory is still the one read.
 *
 * The thread stays a bounded number of listings ahead, so that a mere ls
 * of a whole store's top level reads little.  When the walker lists a
 * directory that was not read ahead (it got there first, or went
 * elsewhere), the thread drops what lies behind and goes on from there.
 */
#ifndef STOREVIEW_PREFETCH_H
#define STOREVIEW_PREFETCH_H

#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <glib.h>

struct sv_listing_entry {
	const char *name;
	off_t next_offset;	/* SOURCE's offset of the entry after this one */
	ino_t ino;		/* as readdir gave them */
	unsigned char type;
	bool vanished;		/* gone before its lstat: not listed */
	struct stat st;		/* lstat, except for . and .. */
};

/*
 * A directory's entries in SOURCE's order, read ahead: all of them, or
 * (in a huge directory) some, with more listings to follow.
 */
struct sv_listing {
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;	/* the directory's, when it was read */
	off_t offset;			/* the first entry follows this one */
	bool complete;			/* the last entry is the directory's last */
	unsigned int count;
	struct sv_listing_entry *entries;
	/* Kept by prefetch.c. */
	gatomicrefcount refs;
	GStringChunk *names;
	struct sv_listing *next;	/* the directory's next listing ready */
};

struct sv_prefetch;

/* The thread stays at most this many listings ahead of the walker. */
#define SV_PREFETCH_MAX_READY 64
/* A huge directory is read as listings of this many entries. */
#define SV_PREFETCH_MAX_ENTRIES 4096

/* A subdirectory to read: its name and number as readdir gave them. */
struct sv_subdir {
	char *name;
	ino_t ino;
};

/* An empty array of struct sv_subdir, which frees their names. */
GArray *sv_subdirs_new(void);

void sv_subdirs_add(GArray *subdirs, const char *name, ino_t ino);

/*
 * NULL, with *error set unless error is NULL, if the thread could not be
 * started (the view then simply does without).
 */
struct sv_prefetch *sv_prefetch_new(char **error);

/*
 * The walker listed entries of directory (dev, ino) that were not read
 * ahead, and found the subdirectories subdirs among them; dir is the
 * directory open.  Read on from there: the subdirectories, then (if
 * resume) the directory's entries after resume_offset.  Takes dir and
 * subdirs over.
 */
void sv_prefetch_missed(struct sv_prefetch *pf, dev_t dev, ino_t ino, DIR *dir, bool resume,
			off_t resume_offset, GArray *subdirs);

/*
 * The listing read ahead that holds the entries of directory (dev, ino)
 * after offset, with a reference, and in *next the first of them; or
 * NULL.  If the thread is reading that directory now, waits for it a
 * little.
 */
struct sv_listing *sv_prefetch_find(struct sv_prefetch *pf, dev_t dev, ino_t ino, off_t offset,
				    unsigned int *next);

/* Drops a listing listed to its end or found out of date, making room ahead. */
void sv_prefetch_used(struct sv_prefetch *pf, struct sv_listing *listing);

void sv_listing_unref(struct sv_listing *listing);

/* Listings read ahead so far (a huge directory makes several). */
unsigned long sv_prefetch_count(struct sv_prefetch *pf);

/*
 * Whether the thread reads nothing, and has nothing it may read until the
 * walker misses or uses a listing.  Tests wait for it before they look at
 * what was read.
 */
bool sv_prefetch_idle(struct sv_prefetch *pf);

/* Stops reading (what is pending is dropped), waits for the thread; NULL is fine. */
void sv_prefetch_free(struct sv_prefetch *pf);

#endif
