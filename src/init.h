/*
 * The INIT request under libfuse before 3.17.  libfuse 3.14 never puts
 * FUSE_PARALLEL_DIROPS in its INIT reply (later versions do when the
 * filesystem wants it), and without it the kernel lets one lookup or
 * listing at a time into each directory: one lookup blocked in the
 * store's top level would hold up every other.  Nor does it know
 * passthrough (see passthrough.h).  Both are added to libfuse's reply on
 * its way to the kernel, through the documented hook for that way,
 * fuse_session_custom_io().
 */
#ifndef STOREVIEW_INIT_H
#define STOREVIEW_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <fuse_lowlevel.h>

#include "fs.h"

/*
 * Carries the messages of fs->se, whose userdata fs is, from now on (call
 * it once mounted, before any request is read), adding to the INIT reply
 * what the kernel offers of FUSE_PARALLEL_DIROPS and, when fs->passthrough
 * is not NULL, passthrough.  Replies that splice still do.  If libfuse
 * refuses, says so and leaves INIT to libfuse alone.
 */
#if HAVE_DECL_FUSE_PASSTHROUGH_OPEN
/* libfuse 3.17 and later ask for both themselves (sv_init, sv_passthrough_want). */
static inline void sv_init_attach(struct sv_fs *fs) {}
static inline void sv_init_free(struct sv_init *init) {}
#else
void sv_init_attach(struct sv_fs *fs);
void sv_init_free(struct sv_init *init);

/*
 * The byte level, for the above and the tests.  If msg, len bytes read
 * from /dev/fuse, is INIT: true, with its unique and the flags it offers
 * (flags2 as bits 32-63).
 */
bool sv_init_parse_request(const void *msg, size_t len, uint64_t *unique, uint64_t *offered);

/*
 * Adds to reply, len bytes of a successful INIT reply (header included),
 * those of FUSE_PARALLEL_DIROPS and FUSE_PASSTHROUGH that wanted asks for
 * and offered has, as far as the reply has room for them; passthrough
 * with SV_PASSTHROUGH_BACKING_DEPTH.  Returns the flags added.
 */
uint64_t sv_init_patch_reply(void *reply, size_t len, uint64_t offered, uint64_t wanted);
#endif

#endif
