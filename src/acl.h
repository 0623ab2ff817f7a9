/*
 * POSIX access ACLs of SOURCE's entries, read with libacl.  The decisions
 * made from them are policy.c's; this file only finds and reads them.
 */
#ifndef STOREVIEW_ACL_H
#define STOREVIEW_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "inodes.h"
#include "policy.h"

/*
 * Whether the entry name in the directory dirfd ("" for dirfd itself) has
 * an access ACL beyond its mode: 1, 0, or a negative errno.  One
 * lgetxattr() that never follows name.
 */
int sv_acl_probe(int dirfd, const char *name);

/*
 * Reads the access ACL of the entry name in dirfd ("" for dirfd itself),
 * which must still be the directory or regular file (dev, ino).  Returns
 * the number of entries, stored in *acl (g_free() it), or a negative errno.
 */
int sv_acl_read(int dirfd, const char *name, dev_t dev, ino_t ino,
		struct sv_acl_entry **acl);

/*
 * Finds again whether inode, a directory or regular file, has an access
 * ACL, if st (a fresh lstat of it) shows a change since the last time: a
 * new ACL changes the ctime.  An ACL that cannot be read counts as one
 * that grants nothing to anyone but the owner.
 */
void sv_acl_refresh(struct sv_inode_table *table, struct sv_inode *inode,
		    const struct stat *st);

/* Whether inode's access checks must read its ACL (sv_acl_may_access()). */
bool sv_acl_extended(const struct sv_inode *inode);

/* mode, the real one of inode, cut down to what its ACL grants everyone. */
mode_t sv_acl_mode(const struct sv_inode *inode, mode_t mode);

/*
 * Whether caller may access inode by the ACL it has now in SOURCE: read
 * for this check, and false if it cannot be read.
 */
bool sv_acl_may_access(struct sv_inode_table *table, struct sv_inode *inode,
		       const struct sv_caller *caller, int want);

#endif
