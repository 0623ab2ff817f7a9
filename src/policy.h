/*
 * What the view shows and allows: reported ownership, which open flags
 * reach the backing file, who may read what, and which names are valid.
 * Pure functions, so the unit tests can cover them without a mount.
 */
#ifndef STOREVIEW_POLICY_H
#define STOREVIEW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Access bits, as for access(2). */
enum sv_access {
	SV_ACCESS_READ = 4,
	SV_ACCESS_WRITE = 2,
	SV_ACCESS_EXEC = 1,
};

/*
 * Flags for opening the backing file of a client open with client_flags.
 * Returns -EROFS for anything that could write.  O_NOATIME never passes:
 * the client's right to it was checked against the reported owner, and the
 * daemon is rarely the real owner.  *dropped_noatime says if it was asked.
 */
int sv_policy_backing_open_flags(int client_flags, int *backing_flags,
				 bool *dropped_noatime);

/* The view reports one owner for every entry; everything else is SOURCE's. */
void sv_policy_present_attr(struct stat *st, uid_t uid, gid_t gid);

/*
 * The mode to report.  The kernel checks access against the reported owner
 * and mode, from its cache, without asking the daemon; so each class (the
 * reported owner uid, group, others) gets only the read and search access
 * that every user who could fall in it really has in SOURCE.  Write bits
 * are kept: the view is read-only anyway.  A root-owned 0555 or 0444 store
 * entry keeps its mode; a 0400 root file shows as 0000.
 */
mode_t sv_policy_narrow_mode(mode_t mode, uid_t owner, uid_t uid);

/* The caller of a request, as far as permission checks need it. */
struct sv_caller {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;	/* supplementary groups, may be NULL */
	size_t ngroups;
};

/*
 * Whether caller may access an entry with the REAL owner, group and mode
 * (not the reported ones): the view never lets a user read what SOURCE
 * would not let them read.  root may do anything but execute a file
 * without any x bit, as in the kernel.
 */
bool sv_policy_may_access(mode_t mode, uid_t owner, gid_t group,
			  const struct sv_caller *caller, int want);

/* True when only the caller's groups can decide the answer. */
bool sv_policy_needs_groups(mode_t mode, uid_t owner, gid_t group,
			    uid_t caller_uid, gid_t caller_gid, int want);

/* The entries of a POSIX access ACL, as far as permission checks need them. */
enum sv_acl_tag {
	SV_ACL_USER_OBJ,
	SV_ACL_USER,
	SV_ACL_GROUP_OBJ,
	SV_ACL_GROUP,
	SV_ACL_MASK,
	SV_ACL_OTHER,
};

struct sv_acl_entry {
	enum sv_acl_tag tag;
	unsigned int id;	/* uid or gid for SV_ACL_USER and SV_ACL_GROUP */
	unsigned int perm;	/* SV_ACCESS_* bits */
};

/*
 * Whether caller may access an entry whose REAL owner and group are these
 * and whose access ACL is acl, by the POSIX algorithm the kernel applies
 * (owner, named users, the owning and named groups, others; the mask
 * limits all but the owner and others).  root as in sv_policy_may_access.
 */
bool sv_policy_acl_may_access(const struct sv_acl_entry *acl, size_t count, mode_t mode,
			      uid_t owner, gid_t group, const struct sv_caller *caller,
			      int want);

/*
 * The access (SV_ACCESS_* bits) that every user but the owner surely has
 * by acl: the least of every entry that may apply to such a user.
 */
unsigned int sv_policy_acl_anyone(const struct sv_acl_entry *acl, size_t count);

/*
 * mode with the read and search bits of group and others cut down to
 * anyone (see sv_policy_acl_anyone), before sv_policy_narrow_mode(): an
 * extended ACL may deny a named user what the mode grants to others, and
 * the kernel checks only the mode the view reports.
 */
mode_t sv_policy_acl_mode(mode_t mode, unsigned int anyone);

/* "." or "..", which every listing holds and no lookup may resolve. */
bool sv_policy_is_dot_or_dotdot(const char *name);

/* A single path component the view will resolve: no '/', not "." or "..". */
bool sv_policy_name_is_valid(const char *name);

/*
 * Whether a caller with uid may list or read the extended attribute name.
 * trusted.* is for privileged callers only, as ext4 lists it; uid 0 stands
 * for privileged, a caller's capabilities being unknown to the daemon.
 */
bool sv_policy_xattr_visible(const char *name, uid_t caller_uid);

#endif
