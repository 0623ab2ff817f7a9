/*
 * The INIT request under libfuse before 3.17: libfuse's messages to the
 * kernel go through the custom io below, which adds FUSE_PARALLEL_DIROPS
 * and passthrough to the INIT reply and passes everything else on as is.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <glib.h>

#include "compat.h"
#include "init.h"

struct sv_init {
	/* Set by read when INIT comes in, cleared by writev once it is answered. */
	int pending;
	uint64_t unique;
	uint64_t offered;
};

/* Room for libfuse's INIT reply: a header and a fuse_init_out of any version so far. */
#define INIT_REPLY_MAX 256

bool sv_init_parse_request(const void *msg, size_t len, uint64_t *unique, uint64_t *offered)
{
	const struct fuse_in_header *in = msg;
	const struct fuse_init_in *init = (const void *)(in + 1);

	if (len < sizeof(*in) || in->opcode != FUSE_INIT)
		return false;
	len -= sizeof(*in);
	*unique = in->unique;
	*offered = 0;
	if (len >= offsetof(struct fuse_init_in, flags) + sizeof(init->flags))
		*offered = init->flags;
	if ((*offered & FUSE_INIT_EXT) &&
	    len >= offsetof(struct fuse_init_in, flags2) + sizeof(init->flags2))
		*offered |= (uint64_t)init->flags2 << 32;
	return true;
}

uint64_t sv_init_patch_reply(void *reply, size_t len, uint64_t offered, uint64_t wanted)
{
	struct fuse_out_header *out = reply;
	struct fuse_init_out *init = (void *)(out + 1);
	size_t body = len - sizeof(*out);
	uint64_t add = offered & wanted & (FUSE_PARALLEL_DIROPS | FUSE_PASSTHROUGH);
	uint32_t depth = SV_PASSTHROUGH_BACKING_DEPTH + 1;

	if (len < sizeof(*out) || body < offsetof(struct fuse_init_out, flags) + sizeof(init->flags))
		return 0;
	/* Flags past the first 32 go in flags2, which the kernel reads only with FUSE_INIT_EXT. */
	if ((add & FUSE_PASSTHROUGH) &&
	    (!(init->flags & FUSE_INIT_EXT) ||
	     body < offsetof(struct fuse_init_out, SV_INIT_OUT_MAX_STACK_DEPTH) + sizeof(depth))) {
		g_debug("no passthrough: libfuse's INIT reply has no room for it");
		add &= ~FUSE_PASSTHROUGH;
	}
	init->flags |= (uint32_t)add;
	if (add & FUSE_PASSTHROUGH) {
		init->flags2 |= (uint32_t)(FUSE_PASSTHROUGH >> 32);
		/* The view's own depth: one above the filesystems that back its files. */
		init->SV_INIT_OUT_MAX_STACK_DEPTH = depth;
	}
	return add;
}

static ssize_t read_request(int fd, void *buf, size_t len, void *userdata)
{
	struct sv_init *init = ((struct sv_fs *)userdata)->init;
	ssize_t n = read(fd, buf, len);

	/* Nothing else comes before INIT is answered, so nothing races with this. */
	if (n > 0 && !g_atomic_int_get(&init->pending) &&
	    sv_init_parse_request(buf, (size_t)n, &init->unique, &init->offered))
		g_atomic_int_set(&init->pending, 1);
	return n;
}

/* Writes libfuse's INIT reply, gathered from iov, with the additions. */
static ssize_t answer_init(struct sv_fs *fs, int fd, const struct iovec *iov, int count)
{
	uint64_t wanted = FUSE_PARALLEL_DIROPS | (fs->passthrough ? FUSE_PASSTHROUGH : 0);
	unsigned char reply[INIT_REPLY_MAX];
	size_t len = 0;
	uint64_t added;
	int i;

	for (i = 0; i < count; i++) {
		if (iov[i].iov_len > sizeof(reply) - len) {
			g_warning("libfuse's INIT reply is longer than %zu bytes: sent as it is",
				  sizeof(reply));
			return writev(fd, iov, count);
		}
		memcpy(reply + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	added = sv_init_patch_reply(reply, len, fs->init->offered, wanted);
	if (!(added & FUSE_PARALLEL_DIROPS))
		g_debug("no parallel directory operations: the kernel does not offer them");
	if (added & FUSE_PASSTHROUGH)
		sv_passthrough_enable(fs->passthrough);
	else if (fs->passthrough)
		g_debug("no passthrough: the kernel does not offer it");
	return write(fd, reply, len);
}

static ssize_t write_reply(int fd, struct iovec *iov, int count, void *userdata)
{
	struct sv_fs *fs = userdata;
	const struct fuse_out_header *out = iov[0].iov_base;

	/* libfuse puts the header alone in iov[0]. */
	if (g_atomic_int_get(&fs->init->pending) && iov[0].iov_len == sizeof(*out) &&
	    out->unique == fs->init->unique) {
		g_atomic_int_set(&fs->init->pending, 0);
		if (out->error == 0)
			return answer_init(fs, fd, iov, count);
	}
	return writev(fd, iov, count);
}

/* Replies with data spliced from a file, never INIT's: as libfuse would send them. */
static ssize_t splice_reply(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			    unsigned int flags, void *userdata)
{
	return splice(fdin, offin, fdout, offout, len, flags);
}

/*
 * No splice_receive: INIT is read before libfuse may splice requests, and
 * afterwards it splices them only for a write_buf operation, which a
 * read-only view has not.
 */
static const struct fuse_custom_io io = {
	.read = read_request,
	.writev = write_reply,
	.splice_send = splice_reply,
};

void sv_init_attach(struct sv_fs *fs)
{
	int err;

	fs->init = g_new0(struct sv_init, 1);
	/*
	 * fuse_session_custom_io() records io and the fd and nothing else, so
	 * given the fd fuse_session_mount() opened it leaves the mount, and its
	 * unmount, as they were.
	 */
	err = fuse_session_custom_io(fs->se, &io, fuse_session_fd(fs->se));
	if (err < 0) {
		g_warning("INIT without parallel directory operations nor passthrough: %s",
			  g_strerror(-err));
		g_clear_pointer(&fs->init, g_free);
	}
}

void sv_init_free(struct sv_init *init)
{
	g_free(init);
}
