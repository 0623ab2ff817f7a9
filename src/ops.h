/*
 * What the request handlers share.  The handlers live in ops.c (entries
 * and open files), readdir.c, xattr.c and read_only.c; sv_ops in ops.c
 * gathers them.
 */
#ifndef STOREVIEW_OPS_H
#define STOREVIEW_OPS_H

#include <stdbool.h>
#include <sys/stat.h>
#include <fuse_lowlevel.h>

#include "fs.h"

struct sv_fs *fs_of(fuse_req_t req);
struct sv_inode *inode_of(struct sv_fs *fs, fuse_ino_t ino);
fuse_ino_t ino_of(struct sv_fs *fs, struct sv_inode *inode);

/*
 * Checks the caller against SOURCE's real owner and mode, and its ACL if it
 * has one, see policy.h.
 */
bool caller_may(fuse_req_t req, struct sv_inode *inode, int want);

/*
 * The directory an entry is reached from, held until put_parent_fd();
 * for the root, the root itself with an empty name (use AT_EMPTY_PATH).
 */
int get_parent_fd(struct sv_fs *fs, struct sv_inode *inode, const char **name);
void put_parent_fd(struct sv_fs *fs, struct sv_inode *inode);

/* Sets st to what the view shows of inode, whose real lstat st holds. */
void present_attr(struct sv_fs *fs, const struct sv_inode *inode, struct stat *st);

/* The presented attributes of inode, from SOURCE; 0 or a negative errno. */
int stat_inode(struct sv_fs *fs, struct sv_inode *inode, struct stat *st);

/*
 * Enters name in parent, whose real lstat e->attr holds, and counts one
 * kernel lookup of it.
 */
void enter_entry(struct sv_fs *fs, struct sv_inode *parent, const char *name,
		 struct fuse_entry_param *e);

/* Looks name up in parent and counts one kernel lookup of the result. */
int do_lookup(struct sv_fs *fs, struct sv_inode *parent, int dirfd, const char *name,
	      struct fuse_entry_param *e);

/* readdir.c */
int open_dir_fd(struct sv_fs *fs, struct sv_inode *dir_inode);
void sv_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sv_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		struct fuse_file_info *fi);
void sv_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		    struct fuse_file_info *fi);

/* xattr.c */
void sv_getxattr(fuse_req_t req, fuse_ino_t ino, const char *xname, size_t size);
void sv_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);

/* read_only.c: every one answers EROFS. */
void sv_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);
void sv_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void sv_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void sv_remove(fuse_req_t req, fuse_ino_t parent, const char *name);
void sv_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void sv_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags);
void sv_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void sv_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void sv_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		  struct fuse_file_info *fi);
void sv_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags);
void sv_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void sv_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		  struct fuse_file_info *fi);
void sv_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags);

#endif
