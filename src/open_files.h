/*
 * The open files of regular files.  All open files of one file of SOURCE,
 * (st_dev, st_ino), share one fd of it while any of them is open, under
 * whichever of its names they were opened (the hard links that nix-store
 * --optimise makes across store paths are an inode each in the view): each
 * open file's handle (fi->fh) is that fd.  So the daemon can answer for an
 * open file, its attributes included, once its name is gone from SOURCE;
 * the first open decides for all whether they are read by passthrough, as
 * the kernel wants (one backing file per inode, and no open read otherwise
 * while it is in use); and the names of a hard-linked file share one
 * backing file, whose pages are SOURCE's, one copy.
 */
#ifndef STOREVIEW_OPEN_FILES_H
#define STOREVIEW_OPEN_FILES_H

#include <stdbool.h>
#include <sys/stat.h>

#include "inodes.h"
#include "passthrough.h"

struct sv_open_files;

/* pt: where backing files are registered; NULL reads every file through the daemon. */
struct sv_open_files *sv_open_files_new(struct sv_passthrough *pt);
void sv_open_files_free(struct sv_open_files *of);

/*
 * Counts one more open file of inode, a regular file that the open has
 * open as fd (taken: kept as the inode's if no other file of it is open,
 * closed else).  Returns the fd the inode's open files share, the handle
 * to answer the open with.  *backing_id is the backing file they are read
 * by, or 0 (read through the daemon); when the first opens, it is
 * registered if want_passthrough.
 */
int sv_open_files_add(struct sv_open_files *of, struct sv_inode *inode, int fd,
		      bool want_passthrough, int *backing_id);

/* One open file of inode was released; the last closes the shared fd. */
void sv_open_files_release(struct sv_open_files *of, struct sv_inode *inode);

/* Whether the open files of inode are read by passthrough. */
bool sv_open_files_by_passthrough(struct sv_open_files *of, const struct sv_inode *inode);

/*
 * The real lstat of inode through the fd its open files share: 0, or
 * -ENOENT if none is open.
 */
int sv_open_files_stat(struct sv_open_files *of, struct sv_inode *inode, struct stat *st);

#endif
