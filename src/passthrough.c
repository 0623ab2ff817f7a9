/*
 * Passthrough reads: backing files registered on /dev/fuse, one per inode
 * while its files are open, and the open replies that name them.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <glib.h>

#include "compat.h"
#include "passthrough.h"

#define MAX_STACK_DEPTH_OFFSET offsetof(struct fuse_init_out, SV_INIT_OUT_MAX_STACK_DEPTH)

/*
 * SOURCE's files are on a filesystem that stacks on nothing (depth 0), and
 * 1 leaves room for an overlayfs on top of the view.
 */
#define STACK_DEPTH 1

struct sv_passthrough {
	struct fuse_session *se;
	GMutex lock;		/* the inodes' backing ids and users */
	bool on;		/* asked for at INIT, and not refused since */
	bool refusal_said;
};

struct sv_passthrough *sv_passthrough_new(struct fuse_session *se)
{
	struct sv_passthrough *pt = g_new0(struct sv_passthrough, 1);

	pt->se = se;
	g_mutex_init(&pt->lock);
	return pt;
}

void sv_passthrough_free(struct sv_passthrough *pt)
{
	if (!pt)
		return;
	g_mutex_clear(&pt->lock);
	g_free(pt);
}

void sv_passthrough_negotiate(struct sv_passthrough *pt, uint64_t offered, void *init_out,
			      size_t init_out_len)
{
	struct fuse_init_out *init = init_out;
	uint32_t depth = STACK_DEPTH;

	if (!pt || !(offered & FUSE_PASSTHROUGH)) {
		g_debug("no passthrough: %s", pt ? "the kernel does not offer it" : "not wanted");
		return;
	}
	if (init_out_len < MAX_STACK_DEPTH_OFFSET + sizeof(depth) || !(init->flags & FUSE_INIT_EXT)) {
		g_debug("no passthrough: libfuse's INIT reply has no room for it");
		return;
	}
	init->flags2 |= (uint32_t)(FUSE_PASSTHROUGH >> 32);
	memcpy((char *)init_out + MAX_STACK_DEPTH_OFFSET, &depth, sizeof(depth));
	g_mutex_lock(&pt->lock);
	pt->on = true;
	g_mutex_unlock(&pt->lock);
}

/*
 * Without CAP_SYS_ADMIN or the ioctl no file will do, and passthrough is
 * turned off.  Other refusals concern the file's filesystem (one itself
 * stacked: ELOOP, or one that cannot back files): files on others are
 * still tried, as SOURCE may span filesystems.  Said once either way.
 */
static void refused(struct sv_passthrough *pt, int err)
{
	if (err == -EPERM || err == -ENOTTY)
		pt->on = false;
	if (!pt->refusal_said)
		g_message("the kernel refuses passthrough (%s): %s read through the daemon",
			  g_strerror(-err), pt->on ? "such files are" : "files are");
	pt->refusal_said = true;
}

int sv_passthrough_get(struct sv_passthrough *pt, struct sv_inode *inode, int fd)
{
	struct fuse_backing_map map = { .fd = fd };
	int id;

	g_mutex_lock(&pt->lock);
	if (inode->backing_users > 0) {
		id = inode->backing_id;
		inode->backing_users++;
	} else if (!pt->on) {
		id = -EOPNOTSUPP;
	} else if ((id = ioctl(fuse_session_fd(pt->se), FUSE_DEV_IOC_BACKING_OPEN, &map)) < 0) {
		id = -errno;
		refused(pt, id);
	} else {
		inode->backing_id = id;
		inode->backing_users = 1;
	}
	g_mutex_unlock(&pt->lock);
	return id;
}

void sv_passthrough_put(struct sv_passthrough *pt, struct sv_inode *inode)
{
	uint32_t id;

	g_mutex_lock(&pt->lock);
	if (--inode->backing_users == 0) {
		id = (uint32_t)inode->backing_id;
		if (ioctl(fuse_session_fd(pt->se), FUSE_DEV_IOC_BACKING_CLOSE, &id) < 0)
			g_warning("cannot unregister backing file %u: %s", id, g_strerror(errno));
	}
	g_mutex_unlock(&pt->lock);
}

int sv_passthrough_reply_open(fuse_req_t req, const struct fuse_file_info *fi, int backing_id)
{
	struct fuse_open_out out = {
		.fh = fi->fh,
		.open_flags = FOPEN_PASSTHROUGH | (fi->noflush ? FOPEN_NOFLUSH : 0),
		.SV_OPEN_OUT_BACKING_ID = backing_id,
	};
	struct iovec iov = { .iov_base = &out, .iov_len = sizeof(out) };

	return fuse_reply_iov(req, &iov, 1);
}
