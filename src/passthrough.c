/*
 * Passthrough reads: backing files registered on /dev/fuse, and the open
 * replies that name them.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <glib.h>

#include "compat.h"
#include "passthrough.h"

struct sv_passthrough {
	struct fuse_session *se;
	GMutex lock;		/* on and refusal_said */
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

void sv_passthrough_want(struct sv_passthrough *pt, struct fuse_conn_info *conn)
{
#if HAVE_DECL_FUSE_PASSTHROUGH_OPEN
	if (!pt)
		return;
	if (!fuse_set_feature_flag(conn, FUSE_CAP_PASSTHROUGH)) {
		g_debug("no passthrough: the kernel does not offer it");
		return;
	}
	conn->max_backing_stack_depth = SV_PASSTHROUGH_BACKING_DEPTH;
	sv_passthrough_enable(pt);
#endif
}

void sv_passthrough_enable(struct sv_passthrough *pt)
{
	g_mutex_lock(&pt->lock);
	pt->on = true;
	g_mutex_unlock(&pt->lock);
}

/*
 * The ioctls, not libfuse 3.17's fuse_passthrough_open(), which answers
 * every refusal with 0 and an error logged: these tell which refusal.
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

int sv_passthrough_register(struct sv_passthrough *pt, int fd)
{
	struct fuse_backing_map map = { .fd = fd };
	int id;

	if (!pt)
		return -EOPNOTSUPP;
	g_mutex_lock(&pt->lock);
	if (!pt->on) {
		id = -EOPNOTSUPP;
	} else if ((id = ioctl(fuse_session_fd(pt->se), FUSE_DEV_IOC_BACKING_OPEN, &map)) < 0) {
		id = -errno;
		refused(pt, id);
	}
	g_mutex_unlock(&pt->lock);
	return id;
}

void sv_passthrough_unregister(struct sv_passthrough *pt, int backing_id)
{
	uint32_t id = (uint32_t)backing_id;

	if (ioctl(fuse_session_fd(pt->se), FUSE_DEV_IOC_BACKING_CLOSE, &id) < 0)
		g_warning("cannot unregister backing file %u: %s", id, g_strerror(errno));
}

int sv_passthrough_reply_open(fuse_req_t req, const struct fuse_file_info *fi, int backing_id)
{
#if HAVE_DECL_FUSE_PASSTHROUGH_OPEN
	struct fuse_file_info out = *fi;

	out.backing_id = backing_id;
	return fuse_reply_open(req, &out);
#else
	struct fuse_open_out out = {
		.fh = fi->fh,
		.open_flags = FOPEN_PASSTHROUGH | (fi->noflush ? FOPEN_NOFLUSH : 0),
		.SV_OPEN_OUT_BACKING_ID = backing_id,
	};
	struct iovec iov = { .iov_base = &out, .iov_len = sizeof(out) };

	return fuse_reply_iov(req, &iov, 1);
#endif
}
