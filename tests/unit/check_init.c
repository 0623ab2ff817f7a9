/*
 * Unit tests for init.c: the INIT request and reply at the byte level, and
 * libfuse's own INIT handling carried through init.c's custom io over a
 * socket standing in for /dev/fuse, with the passthrough negotiation that
 * follows from it.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <check.h>
#include <glib.h>

#include "compat.h"
#include "init.h"
#include "suites.h"

/* What a 6.9 kernel offers: flags2 follows, with passthrough in it. */
#define OFFERED_FLAGS (FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS | FUSE_INIT_EXT)
#define OFFERED (OFFERED_FLAGS | FUSE_PASSTHROUGH)
#define BOTH (FUSE_PARALLEL_DIROPS | FUSE_PASSTHROUGH)

struct init_request {
	struct fuse_in_header in;
	struct fuse_init_in init;
};

struct init_reply {
	struct fuse_out_header out;
	struct fuse_init_out init;
};

static struct init_request request(uint32_t flags, uint32_t flags2)
{
	struct init_request req = {
		.in = { .len = sizeof(req), .opcode = FUSE_INIT, .unique = 2 },
		.init = { .major = 7, .minor = 40, .max_readahead = 131072,
			  .flags = flags, .flags2 = flags2 },
	};
	return req;
}

/* A reply as libfuse 3.14 writes it: INIT_EXT echoed, no parallel dirops. */
static struct init_reply reply(uint32_t flags)
{
	struct init_reply rep = {
		.out = { .len = sizeof(rep), .unique = 2 },
		.init = { .major = 7, .minor = 38, .flags = flags, .max_write = 131072 },
	};
	return rep;
}

START_TEST(request_flags_with_and_without_flags2)
{
	struct init_request req = request(OFFERED_FLAGS, (uint32_t)(FUSE_PASSTHROUGH >> 32));
	uint64_t unique = 0, offered = 0;

	ck_assert(sv_init_parse_request(&req, sizeof(req), &unique, &offered));
	ck_assert_uint_eq(unique, 2);
	ck_assert_uint_eq(offered, OFFERED);

	/* Without FUSE_INIT_EXT, flags2 is not the kernel's to read. */
	req = request(FUSE_ASYNC_READ, (uint32_t)(FUSE_PASSTHROUGH >> 32));
	ck_assert(sv_init_parse_request(&req, sizeof(req), &unique, &offered));
	ck_assert_uint_eq(offered, FUSE_ASYNC_READ);

	/* An old kernel's shorter request has no flags2 to read. */
	req = request(OFFERED_FLAGS, 0xffffffff);
	ck_assert(sv_init_parse_request(&req, sizeof(req.in) + offsetof(struct fuse_init_in, flags2),
					&unique, &offered));
	ck_assert_uint_eq(offered, OFFERED_FLAGS);
}
END_TEST

START_TEST(other_requests_are_not_init)
{
	struct init_request req = request(OFFERED_FLAGS, 0);
	uint64_t unique = 0, offered = 0;

	ck_assert(!sv_init_parse_request(&req, sizeof(req.in) - 1, &unique, &offered));
	req.in.opcode = FUSE_LOOKUP;
	ck_assert(!sv_init_parse_request(&req, sizeof(req), &unique, &offered));
	ck_assert_uint_eq(unique, 0);
}
END_TEST

START_TEST(reply_gets_what_is_offered_and_wanted)
{
	struct init_reply rep = reply(FUSE_ASYNC_READ | FUSE_INIT_EXT);
	struct init_reply expected = rep;

	ck_assert_uint_eq(sv_init_patch_reply(&rep, sizeof(rep), OFFERED, BOTH), BOTH);
	expected.init.flags |= FUSE_PARALLEL_DIROPS;
	expected.init.flags2 = (uint32_t)(FUSE_PASSTHROUGH >> 32);
	expected.init.SV_INIT_OUT_MAX_STACK_DEPTH = SV_PASSTHROUGH_BACKING_DEPTH + 1;
	ck_assert_mem_eq(&rep, &expected, sizeof(rep));
}
END_TEST

START_TEST(reply_keeps_what_is_not_offered_or_not_wanted)
{
	struct init_reply rep = reply(FUSE_ASYNC_READ | FUSE_INIT_EXT);
	struct init_reply expected = rep;

	ck_assert_uint_eq(sv_init_patch_reply(&rep, sizeof(rep), FUSE_ASYNC_READ | FUSE_INIT_EXT, BOTH), 0);
	ck_assert_mem_eq(&rep, &expected, sizeof(rep));

	/* Passthrough not wanted (-o no_passthrough, or not root). */
	ck_assert_uint_eq(sv_init_patch_reply(&rep, sizeof(rep), OFFERED, FUSE_PARALLEL_DIROPS),
			  FUSE_PARALLEL_DIROPS);
	expected.init.flags |= FUSE_PARALLEL_DIROPS;
	ck_assert_mem_eq(&rep, &expected, sizeof(rep));
}
END_TEST

START_TEST(passthrough_only_where_the_reply_has_room)
{
	struct init_reply rep = reply(FUSE_ASYNC_READ);
	struct init_reply expected = rep;

	/* No FUSE_INIT_EXT in libfuse's reply: the kernel would not read flags2. */
	ck_assert_uint_eq(sv_init_patch_reply(&rep, sizeof(rep), OFFERED, BOTH), FUSE_PARALLEL_DIROPS);
	expected.init.flags |= FUSE_PARALLEL_DIROPS;
	ck_assert_mem_eq(&rep, &expected, sizeof(rep));

	/* A reply cut before max_stack_depth. */
	rep = expected = reply(FUSE_INIT_EXT);
	ck_assert_uint_eq(sv_init_patch_reply(&rep, sizeof(rep.out) +
					      offsetof(struct fuse_init_out, SV_INIT_OUT_MAX_STACK_DEPTH),
					      OFFERED, BOTH), FUSE_PARALLEL_DIROPS);

	/* The oldest reply, major and minor alone, has no flags at all. */
	rep = expected = reply(0);
	ck_assert_uint_eq(sv_init_patch_reply(&rep, sizeof(rep.out) + 8, OFFERED, BOTH), 0);
	ck_assert_mem_eq(&rep, &expected, sizeof(rep));
}
END_TEST

/*
 * libfuse reads INIT from one end of a socket pair, answers it through
 * init.c, and the other end gets the reply the kernel would.
 */
static void negotiate(struct sv_fs *fs, bool want_passthrough, const struct init_request *req,
		      struct init_reply *rep)
{
	static const struct fuse_lowlevel_ops no_ops;
	char *argv[] = { "check_storeview", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	g_autofree char *mountpoint = NULL;
	struct fuse_buf buf = { 0 };
	int kernel[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, kernel), 0);
	fs->se = fuse_session_new(&args, &no_ops, sizeof(no_ops), fs);
	fuse_opt_free_args(&args);
	ck_assert_ptr_nonnull(fs->se);
	/* /dev/fd/N: the way of a /dev/fuse opened and mounted by another process. */
	mountpoint = g_strdup_printf("/dev/fd/%d", kernel[1]);
	ck_assert_int_eq(fuse_session_mount(fs->se, mountpoint), 0);
	if (want_passthrough)
		fs->passthrough = sv_passthrough_new(fs->se);
	sv_init_attach(fs);
	ck_assert_ptr_nonnull(fs->init);

	ck_assert_int_eq(write(kernel[0], req, sizeof(*req)), (ssize_t)sizeof(*req));
	ck_assert_int_gt(fuse_session_receive_buf(fs->se, &buf), 0);
	fuse_session_process_buf(fs->se, &buf);
	free(buf.mem);
	ck_assert_int_eq(read(kernel[0], rep, sizeof(*rep)), (ssize_t)sizeof(*rep));
	ck_assert_uint_eq(rep->out.unique, req->in.unique);
	ck_assert_int_eq(rep->out.error, 0);
	close(kernel[0]);
}

static void end_session(struct sv_fs *fs)
{
	fuse_session_destroy(fs->se);
	sv_init_free(fs->init);
	sv_passthrough_free(fs->passthrough);
}

START_TEST(libfuse_reply_reaches_the_kernel_with_the_additions)
{
	struct init_request req = request(OFFERED_FLAGS, (uint32_t)(FUSE_PASSTHROUGH >> 32));
	struct sv_fs fs = { 0 };
	struct init_reply rep;

	negotiate(&fs, true, &req, &rep);
	ck_assert_uint_eq(rep.init.flags & FUSE_PARALLEL_DIROPS, FUSE_PARALLEL_DIROPS);
	ck_assert_uint_eq(rep.init.flags & FUSE_INIT_EXT, FUSE_INIT_EXT);
	ck_assert_uint_eq(rep.init.flags2, (uint32_t)(FUSE_PASSTHROUGH >> 32));
	ck_assert_uint_eq(rep.init.SV_INIT_OUT_MAX_STACK_DEPTH, SV_PASSTHROUGH_BACKING_DEPTH + 1);
	/* Passthrough is on: an open now asks the "kernel", a socket, which knows no such ioctl. */
	ck_assert_int_eq(sv_passthrough_register(fs.passthrough, 0), -ENOTTY);
	end_session(&fs);
}
END_TEST

START_TEST(libfuse_reply_passes_unchanged_where_nothing_is_offered)
{
	struct init_request req = request(FUSE_ASYNC_READ | FUSE_INIT_EXT, 0);
	struct sv_fs fs = { 0 };
	struct init_reply rep;

	negotiate(&fs, true, &req, &rep);
	ck_assert_uint_eq(rep.init.flags & FUSE_PARALLEL_DIROPS, 0);
	ck_assert_uint_eq(rep.init.flags2, 0);
	ck_assert_uint_eq(rep.init.SV_INIT_OUT_MAX_STACK_DEPTH, 0);
	/* Passthrough stays off: opens are read through the daemon without asking. */
	ck_assert_int_eq(sv_passthrough_register(fs.passthrough, 0), -EOPNOTSUPP);
	end_session(&fs);
}
END_TEST

Suite *init_suite(void)
{
	Suite *s = suite_create("init");
	TCase *tc = tcase_create("init");

	tcase_add_test(tc, request_flags_with_and_without_flags2);
	tcase_add_test(tc, other_requests_are_not_init);
	tcase_add_test(tc, reply_gets_what_is_offered_and_wanted);
	tcase_add_test(tc, reply_keeps_what_is_not_offered_or_not_wanted);
	tcase_add_test(tc, passthrough_only_where_the_reply_has_room);
	tcase_add_test(tc, libfuse_reply_reaches_the_kernel_with_the_additions);
	tcase_add_test(tc, libfuse_reply_passes_unchanged_where_nothing_is_offered);
	suite_add_tcase(s, tc);
	return s;
}
