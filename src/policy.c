/* What the view shows and allows; see policy.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include "policy.h"

int sv_policy_backing_open_flags(int client_flags, int *backing_flags,
				 bool *dropped_noatime)
{
	*dropped_noatime = (client_flags & O_NOATIME) != 0;
	if ((client_flags & O_ACCMODE) != O_RDONLY ||
	    (client_flags & (O_TRUNC | O_CREAT | O_APPEND)))
		return -EROFS;
	/* Nothing else the client asked for matters to a read-only backing fd. */
	*backing_flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
	return 0;
}

void sv_policy_present_attr(struct stat *st, uid_t uid, gid_t gid)
{
	st->st_uid = uid;
	st->st_gid = gid;
}

mode_t sv_policy_narrow_mode(mode_t mode, uid_t owner, uid_t uid)
{
	/* Only read and search bits: a read-only view's write bits grant nothing. */
	mode_t user = (mode >> 6) & 5, group = (mode >> 3) & 5, other = mode & 5;
	/* Group membership is unknown: a user may get either set of bits. */
	mode_t not_owner = group & other;
	/* Anyone else may be the real owner, unless that is root, who passes
	 * the kernel's checks whatever the mode says. */
	mode_t anyone = owner != 0 ? not_owner & user : not_owner;
	mode_t reported_owner = uid == owner ? user : not_owner;

	return (mode & ~(mode_t)0555) | reported_owner << 6 | anyone << 3 | anyone;
}

static int permission_bits(mode_t mode, uid_t owner, gid_t group,
			   const struct sv_caller *caller)
{
	if (caller->uid == owner)
		return (mode >> 6) & 7;
	if (caller->gid == group)
		return (mode >> 3) & 7;
	for (size_t i = 0; i < caller->ngroups; i++)
		if (caller->groups[i] == group)
			return (mode >> 3) & 7;
	return mode & 7;
}

bool sv_policy_may_access(mode_t mode, uid_t owner, gid_t group,
			  const struct sv_caller *caller, int want)
{
	if (caller->uid == 0) {
		if ((want & SV_ACCESS_EXEC) && !S_ISDIR(mode) && !(mode & 0111))
			return false;
		return true;
	}
	return (permission_bits(mode, owner, group, caller) & want) == want;
}

static bool in_group(gid_t gid, const struct sv_caller *caller)
{
	if (caller->gid == gid)
		return true;
	for (size_t i = 0; i < caller->ngroups; i++)
		if (caller->groups[i] == gid)
			return true;
	return false;
}

static bool grants(unsigned int perm, int want)
{
	return (perm & (unsigned int)want) == (unsigned int)want;
}

bool sv_policy_acl_may_access(const struct sv_acl_entry *acl, size_t count, mode_t mode,
			      uid_t owner, gid_t group, const struct sv_caller *caller,
			      int want)
{
	/* Without a mask (a minimal ACL) nothing is masked. */
	unsigned int mask = 7, other = 0;
	bool group_matched = false, group_grants = false;

	if (caller->uid == 0)
		return sv_policy_may_access(mode, owner, group, caller, want);
	for (size_t i = 0; i < count; i++) {
		if (acl[i].tag == SV_ACL_MASK)
			mask = acl[i].perm;
		else if (acl[i].tag == SV_ACL_OTHER)
			other = acl[i].perm;
	}
	for (size_t i = 0; i < count; i++)
		if (acl[i].tag == SV_ACL_USER_OBJ && caller->uid == owner)
			return grants(acl[i].perm, want);
	if (caller->uid == owner)
		return false;	/* an ACL without its owner entry: refuse */
	for (size_t i = 0; i < count; i++)
		if (acl[i].tag == SV_ACL_USER && acl[i].id == caller->uid)
			return grants(acl[i].perm & mask, want);
	for (size_t i = 0; i < count; i++) {
		bool member = (acl[i].tag == SV_ACL_GROUP_OBJ && in_group(group, caller)) ||
			      (acl[i].tag == SV_ACL_GROUP && in_group(acl[i].id, caller));

		if (!member)
			continue;
		group_matched = true;
		if (grants(acl[i].perm & mask, want))
			group_grants = true;
	}
	if (group_matched)
		return group_grants;
	return grants(other, want);
}

unsigned int sv_policy_acl_anyone(const struct sv_acl_entry *acl, size_t count)
{
	unsigned int mask = 7, anyone = 7;

	for (size_t i = 0; i < count; i++)
		if (acl[i].tag == SV_ACL_MASK)
			mask = acl[i].perm;
	for (size_t i = 0; i < count; i++) {
		switch (acl[i].tag) {
		case SV_ACL_USER:
		case SV_ACL_GROUP_OBJ:
		case SV_ACL_GROUP:
			anyone &= acl[i].perm & mask;
			break;
		case SV_ACL_OTHER:
			anyone &= acl[i].perm;
			break;
		case SV_ACL_USER_OBJ:
		case SV_ACL_MASK:
			break;
		}
	}
	return anyone;
}

mode_t sv_policy_acl_mode(mode_t mode, unsigned int anyone)
{
	mode_t keep = (mode_t)(anyone & 5);

	return (mode & ~(mode_t)055) | (mode & (keep << 3 | keep));
}

bool sv_policy_needs_groups(mode_t mode, uid_t owner, gid_t group,
			    uid_t caller_uid, gid_t caller_gid, int want)
{
	if (caller_uid == 0 || caller_uid == owner || caller_gid == group)
		return false;
	unsigned int bits = (unsigned int)want;

	/* Group bits only matter when they would answer differently. */
	return (((mode >> 3) & bits) == bits) != ((mode & bits) == bits);
}

bool sv_policy_is_dot_or_dotdot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

bool sv_policy_name_is_valid(const char *name)
{
	size_t len = strnlen(name, NAME_MAX + 1);

	if (len == 0 || len > NAME_MAX)
		return false;
	if (sv_policy_is_dot_or_dotdot(name))
		return false;
	return memchr(name, '/', len) == NULL;
}

bool sv_policy_xattr_visible(const char *name, uid_t caller_uid)
{
	return caller_uid == 0 || strncmp(name, "trusted.", strlen("trusted.")) != 0;
}
