/*
 * Passthrough reads (Linux 6.9 and later): the open's reply names a file of
 * SOURCE registered on /dev/fuse, and the kernel then reads (and maps) the
 * open file straight from it, with no request to the daemon and no second
 * copy of the data in the page cache.  libfuse 3.14 knows nothing of it:
 * init.c asks for it in the INIT reply, and this file registers backing
 * files and answers such opens itself.
 *
 * The kernel wants all open files of an inode to share one backing file
 * (a second one, or an open without it, fails while one is in use), so an
 * inode keeps its backing file registered while any open file uses it: the
 * opens share it and the last release unregisters it.
 */
#ifndef STOREVIEW_PASSTHROUGH_H
#define STOREVIEW_PASSTHROUGH_H

#include <stdint.h>
#include <fuse_lowlevel.h>

#include "inodes.h"

/* The handle of an open file read by passthrough: no fd of the daemon's. */
#define SV_PASSTHROUGH_FH UINT64_MAX

struct sv_passthrough;

/* For the connection of se, once mounted. */
struct sv_passthrough *sv_passthrough_new(struct fuse_session *se);
void sv_passthrough_free(struct sv_passthrough *pt);

/*
 * For init.c: if the kernel offers passthrough (offered: INIT's flags, and
 * flags2 as bits 32-63), adds the request for it to init_out, libfuse's
 * successful reply, and turns passthrough on.  pt may be NULL (not
 * wanted): nothing is added.
 */
void sv_passthrough_negotiate(struct sv_passthrough *pt, uint64_t offered, void *init_out,
			      size_t init_out_len);

/*
 * Registers fd, a file of SOURCE open for reading, as the backing file of
 * inode's open files, or counts one more user of the one registered.
 * Returns the backing id to answer the open with, or a negative errno:
 * the open is then read through the daemon.  A refusal that every file
 * would meet turns passthrough off.
 */
int sv_passthrough_get(struct sv_passthrough *pt, struct sv_inode *inode, int fd);

/* An open file of inode, got with sv_passthrough_get(), was released. */
void sv_passthrough_put(struct sv_passthrough *pt, struct sv_inode *inode);

/*
 * Answers an open, read by passthrough from backing_id, with fi's handle
 * and noflush.  Its keep_cache would be moot: the kernel keeps no pages
 * of its own for a file read so.
 */
int sv_passthrough_reply_open(fuse_req_t req, const struct fuse_file_info *fi, int backing_id);

#endif
