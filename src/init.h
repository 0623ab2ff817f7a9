/*
 * The INIT request.  libfuse 3.14 never puts FUSE_PARALLEL_DIROPS in its
 * INIT reply (later versions do when the filesystem wants it), and without
 * it the kernel lets one lookup or listing at a time into each directory:
 * one lookup blocked in the store's top level would hold up every other.
 * Nor does it know passthrough (see passthrough.h).
 */
#ifndef STOREVIEW_INIT_H
#define STOREVIEW_INIT_H

#include <stdbool.h>
#include <fuse_lowlevel.h>

#include "passthrough.h"

/* Whether buf, a request just received, is INIT. */
bool sv_init_is_init(const struct fuse_buf *buf);

/*
 * Processes INIT with libfuse, catching the reply on its way to the
 * kernel to add FUSE_PARALLEL_DIROPS when the kernel offers it, and
 * passthrough when pt is not NULL.  Only while no other thread reads or
 * answers requests.
 */
void sv_init_process(struct fuse_session *se, const struct fuse_buf *buf,
		     struct sv_passthrough *pt);

#endif
