/*
 * The answers to every writing operation.  The mount is read-only, so the
 * kernel answers most writes itself; these are the backstop.
 */
#include "config.h"

#include <errno.h>

#include "ops.h"

static void reply_erofs(fuse_req_t req)
{
	fuse_reply_err(req, EROFS);
}

void sv_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi)
{
	reply_erofs(req);
}

void sv_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	reply_erofs(req);
}

void sv_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	reply_erofs(req);
}

void sv_remove(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_erofs(req);
}

void sv_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	reply_erofs(req);
}

void sv_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags)
{
	reply_erofs(req);
}

void sv_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	reply_erofs(req);
}

void sv_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	reply_erofs(req);
}

void sv_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		  struct fuse_file_info *fi)
{
	reply_erofs(req);
}

void sv_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
		 int flags)
{
	reply_erofs(req);
}

void sv_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	reply_erofs(req);
}

void sv_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		  struct fuse_file_info *fi)
{
	reply_erofs(req);
}

void sv_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags)
{
	reply_erofs(req);
}
