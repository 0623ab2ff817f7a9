/*
 * The INIT request, with FUSE_PARALLEL_DIROPS and passthrough added to
 * libfuse's reply: libfuse writes the reply into a pipe standing in for
 * /dev/fuse, and what it wrote goes on to the kernel from there.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>
#include <glib.h>
#include <linux/fuse.h>

#include "init.h"
#include "passthrough.h"

bool sv_init_is_init(const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = buf->mem;

	return !(buf->flags & FUSE_BUF_IS_FD) && buf->size >= sizeof(*in) &&
	       in->opcode == FUSE_INIT;
}

/* What the kernel offers in INIT: flags, and flags2 as bits 32-63. */
static uint64_t kernel_offers(const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = buf->mem;
	const struct fuse_init_in *init = (const void *)(in + 1);
	size_t len = buf->size - sizeof(*in);
	uint64_t flags = 0;

	if (len >= offsetof(struct fuse_init_in, flags) + sizeof(init->flags))
		flags = init->flags;
	if ((flags & FUSE_INIT_EXT) &&
	    len >= offsetof(struct fuse_init_in, flags2) + sizeof(init->flags2))
		flags |= (uint64_t)init->flags2 << 32;
	return flags;
}

/* Reads all that was written into the pipe; NULL if reading fails. */
static GByteArray *drain(int pipe_out)
{
	GByteArray *all = g_byte_array_new();
	guint8 chunk[4096];
	ssize_t n;

	while ((n = read(pipe_out, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g_byte_array_free(all, TRUE);
			return NULL;
		}
		g_byte_array_append(all, chunk, (guint)n);
	}
	return all;
}

/*
 * Writes each message on to the kernel (a notification from another
 * thread may have come in between), with the flags added to the successful
 * reply to request.
 */
static void forward(GByteArray *written, int fuse_fd, const struct fuse_buf *request,
		    struct sv_passthrough *pt)
{
	uint64_t unique = ((const struct fuse_in_header *)request->mem)->unique;
	uint64_t offered = kernel_offers(request);
	size_t at = 0;

	while (written->len - at >= sizeof(struct fuse_out_header)) {
		struct fuse_out_header *out = (void *)(written->data + at);
		struct fuse_init_out *init = (void *)(out + 1);

		if (out->len < sizeof(*out) || out->len > written->len - at) {
			g_warning("cannot pass on libfuse's INIT reply: a message of %u bytes", out->len);
			return;
		}
		if (out->unique == unique && out->error == 0 &&
		    out->len >= sizeof(*out) + offsetof(struct fuse_init_out, flags) + sizeof(init->flags)) {
			if (offered & FUSE_PARALLEL_DIROPS)
				init->flags |= FUSE_PARALLEL_DIROPS;
			sv_passthrough_negotiate(pt, offered, init, out->len - sizeof(*out));
		}
		/* The kernel refuses replies to requests gone by, as it would have anyway. */
		if (write(fuse_fd, out, out->len) < 0 && out->unique == unique)
			g_warning("cannot answer INIT: %s", g_strerror(errno));
		at += out->len;
	}
}

void sv_init_process(struct fuse_session *se, const struct fuse_buf *buf,
		     struct sv_passthrough *pt)
{
	int fuse_fd = fuse_session_fd(se);
	GByteArray *written;
	int pipefd[2], saved;

	saved = fcntl(fuse_fd, F_DUPFD_CLOEXEC, 0);
	if (saved < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		g_debug("INIT without parallel directory operations nor passthrough: %s",
			g_strerror(errno));
		if (saved >= 0)
			close(saved);
		fuse_session_process_buf(se, buf);
		return;
	}
	/* libfuse answers on the fd number it holds: that is the pipe, for now. */
	dup3(pipefd[1], fuse_fd, O_CLOEXEC);
	close(pipefd[1]);
	fuse_session_process_buf(se, buf);
	dup3(saved, fuse_fd, O_CLOEXEC);
	close(saved);

	written = drain(pipefd[0]);
	close(pipefd[0]);
	if (!written) {
		g_warning("cannot pass on libfuse's INIT reply: %s", g_strerror(errno));
		return;
	}
	forward(written, fuse_fd, buf, pt);
	g_byte_array_free(written, TRUE);
}
