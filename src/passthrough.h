/*
 * Passthrough reads (Linux 6.9 and later): the open's reply names a file of
 * SOURCE registered on /dev/fuse, and the kernel then reads (and maps) the
 * open file straight from it, with no request to the daemon and no second
 * copy of the data in the page cache.  libfuse 3.17 and later ask for it
 * and answer such opens; libfuse 3.14 knows nothing of it: init.c asks for
 * it in the INIT reply, and this file answers such opens itself.
 *
 * The kernel wants all open files of an inode to share one backing file
 * (a second one, or an open without it, fails while one is in use):
 * open_files.c registers the fd that an inode's open files share, when the
 * first opens, and unregisters it when the last is released.
 */
#ifndef STOREVIEW_PASSTHROUGH_H
#define STOREVIEW_PASSTHROUGH_H

#include <stdint.h>
#include <fuse_lowlevel.h>

struct sv_passthrough;

/* For the connection of se, once mounted. */
struct sv_passthrough *sv_passthrough_new(struct fuse_session *se);
void sv_passthrough_free(struct sv_passthrough *pt);

/*
 * The depth of the filesystems whose files back the view's: SOURCE's stack
 * on nothing, and the view, one above, leaves room for an overlayfs on top.
 */
#define SV_PASSTHROUGH_BACKING_DEPTH 0

/*
 * At INIT, from the filesystem's init: asks for passthrough in conn where
 * libfuse knows it (3.17 and later; before, init.c asks in the reply).
 * pt NULL: not wanted.
 */
void sv_passthrough_want(struct sv_passthrough *pt, struct fuse_conn_info *conn);

/* The INIT reply asked for passthrough: opens may use it from now on. */
void sv_passthrough_enable(struct sv_passthrough *pt);

/*
 * Registers fd, a file of SOURCE open for reading, as a backing file.
 * Returns its backing id, or a negative errno: the file is then read
 * through the daemon.  A refusal that every file would meet turns
 * passthrough off.  pt may be NULL: -EOPNOTSUPP.
 */
int sv_passthrough_register(struct sv_passthrough *pt, int fd);

/* Unregisters a backing file; its fd stays open. */
void sv_passthrough_unregister(struct sv_passthrough *pt, int backing_id);

/*
 * Answers an open, read by passthrough from backing_id, with fi's handle
 * and noflush.  Its keep_cache would be moot: the kernel keeps no pages
 * of its own for a file read so.
 */
int sv_passthrough_reply_open(fuse_req_t req, const struct fuse_file_info *fi, int backing_id);

#endif
