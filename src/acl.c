/* POSIX access ACLs of SOURCE's entries; see acl.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <acl/libacl.h>
#include <sys/acl.h>
#include <glib.h>

#include "acl.h"

#define ACCESS_ACL_XATTR "system.posix_acl_access"

/* struct sv_inode's acl: one of these, and the anyone bits above them. */
enum {
	ACL_UNPROBED,
	ACL_NONE,
	ACL_EXTENDED,
	ACL_UNREADABLE,
};
#define ACL_STATE(packed) ((packed) & 3)
#define ACL_ANYONE(packed) ((packed) >> 2)

int sv_acl_probe(int dirfd, const char *name)
{
	char path[64 + 256];
	ssize_t len;

	/* /proc/self/fd/N leads to dirfd's directory itself; name is not followed. */
	if (*name) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
		len = lgetxattr(path, ACCESS_ACL_XATTR, NULL, 0);
	} else {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
		len = getxattr(path, ACCESS_ACL_XATTR, NULL, 0);
	}
	if (len >= 0)
		return 1;
	/* No ACL, or a file system without them. */
	if (errno == ENODATA || errno == ENOTSUP)
		return 0;
	return -errno;
}

static int tag_of(acl_tag_t tag, enum sv_acl_tag *out)
{
	switch (tag) {
	case ACL_USER_OBJ: *out = SV_ACL_USER_OBJ; return 0;
	case ACL_USER: *out = SV_ACL_USER; return 0;
	case ACL_GROUP_OBJ: *out = SV_ACL_GROUP_OBJ; return 0;
	case ACL_GROUP: *out = SV_ACL_GROUP; return 0;
	case ACL_MASK: *out = SV_ACL_MASK; return 0;
	case ACL_OTHER: *out = SV_ACL_OTHER; return 0;
	default: return -EINVAL;
	}
}

static int entry_of(acl_entry_t entry, struct sv_acl_entry *out)
{
	acl_permset_t permset;
	acl_tag_t tag;

	if (acl_get_tag_type(entry, &tag) < 0 || acl_get_permset(entry, &permset) < 0)
		return -errno;
	if (tag_of(tag, &out->tag) < 0)
		return -EINVAL;
	out->id = 0;
	if (tag == ACL_USER || tag == ACL_GROUP) {
		/* uid_t and gid_t are both unsigned int. */
		unsigned int *id = acl_get_qualifier(entry);

		if (!id)
			return -errno;
		out->id = *id;
		acl_free(id);
	}
	out->perm = (acl_get_perm(permset, ACL_READ) == 1 ? SV_ACCESS_READ : 0) |
		    (acl_get_perm(permset, ACL_WRITE) == 1 ? SV_ACCESS_WRITE : 0) |
		    (acl_get_perm(permset, ACL_EXECUTE) == 1 ? SV_ACCESS_EXEC : 0);
	return 0;
}

static int convert(acl_t acl, struct sv_acl_entry **out)
{
	GArray *entries = g_array_new(FALSE, TRUE, sizeof(struct sv_acl_entry));
	acl_entry_t entry;
	int which = ACL_FIRST_ENTRY, got, ret = 0;

	while ((got = acl_get_entry(acl, which, &entry)) == 1) {
		struct sv_acl_entry e;

		ret = entry_of(entry, &e);
		if (ret < 0)
			break;
		g_array_append_val(entries, e);
		which = ACL_NEXT_ENTRY;
	}
	if (ret == 0 && got < 0)
		ret = -errno;
	if (ret < 0) {
		g_array_free(entries, TRUE);
		return ret;
	}
	ret = (int)entries->len;
	*out = (struct sv_acl_entry *)(void *)g_array_free(entries, FALSE);
	return ret;
}

int sv_acl_read(int dirfd, const char *name, dev_t dev, ino_t ino,
		struct sv_acl_entry **out)
{
	char path[64];
	struct stat st;
	acl_t acl;
	int fd = dirfd, ret;

	if (*name) {
		fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	/* Only what the view opens has ACLs that matter; never a symlink's target. */
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (st.st_dev != dev || st.st_ino != ino || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
		ret = -ESTALE;
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	acl = acl_get_file(path, ACL_TYPE_ACCESS);
	if (!acl) {
		ret = -errno;
		goto out;
	}
	ret = convert(acl, out);
	acl_free(acl);
out:
	if (fd != dirfd)
		close(fd);
	return ret;
}

/* The directory inode is reached from, held until put_parent(); see ops.c. */
static int get_parent(struct sv_inode_table *table, struct sv_inode *inode, const char **name)
{
	*name = inode->parent ? inode->name : "";
	return sv_inode_get_dirfd(table, inode->parent ? inode->parent : inode);
}

static void put_parent(struct sv_inode_table *table, struct sv_inode *inode)
{
	sv_inode_put_dirfd(table, inode->parent ? inode->parent : inode);
}

static uint32_t find_acl(struct sv_inode_table *table, struct sv_inode *inode)
{
	g_autofree struct sv_acl_entry *acl = NULL;
	const char *name;
	int dirfd, n;

	dirfd = get_parent(table, inode, &name);
	if (dirfd < 0)
		return ACL_UNREADABLE;
	n = sv_acl_probe(dirfd, name);
	if (n > 0)
		n = sv_acl_read(dirfd, name, inode->dev, inode->ino, &acl);
	put_parent(table, inode);
	if (n == 0)
		return ACL_NONE;
	if (n < 0) {
		g_debug("ACL of inode %lu unreadable: %s", (unsigned long)inode->ino, g_strerror(-n));
		return ACL_UNREADABLE;
	}
	return ACL_EXTENDED | sv_policy_acl_anyone(acl, (size_t)n) << 2;
}

void sv_acl_refresh(struct sv_inode_table *table, struct sv_inode *inode,
		    const struct stat *st)
{
	int64_t ctime = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;

	if (!S_ISREG(inode->mode) && !S_ISDIR(inode->mode))
		return;
	if (ACL_STATE(__atomic_load_n(&inode->acl, __ATOMIC_ACQUIRE)) != ACL_UNPROBED &&
	    __atomic_load_n(&inode->acl_ctime, __ATOMIC_RELAXED) == ctime)
		return;
	__atomic_store_n(&inode->acl, find_acl(table, inode), __ATOMIC_RELEASE);
	__atomic_store_n(&inode->acl_ctime, ctime, __ATOMIC_RELAXED);
}

bool sv_acl_extended(const struct sv_inode *inode)
{
	uint32_t state = ACL_STATE(__atomic_load_n(&inode->acl, __ATOMIC_ACQUIRE));

	return state == ACL_EXTENDED || state == ACL_UNREADABLE;
}

mode_t sv_acl_mode(const struct sv_inode *inode, mode_t mode)
{
	uint32_t packed = __atomic_load_n(&inode->acl, __ATOMIC_ACQUIRE);

	switch (ACL_STATE(packed)) {
	case ACL_EXTENDED:
		return sv_policy_acl_mode(mode, ACL_ANYONE(packed));
	case ACL_UNREADABLE:
		return sv_policy_acl_mode(mode, 0);
	default:
		return mode;
	}
}

bool sv_acl_may_access(struct sv_inode_table *table, struct sv_inode *inode,
		       const struct sv_caller *caller, int want)
{
	g_autofree struct sv_acl_entry *acl = NULL;
	const char *name;
	int dirfd, n;
	mode_t mode;
	uid_t owner;
	gid_t group;

	dirfd = get_parent(table, inode, &name);
	if (dirfd < 0)
		return false;
	n = sv_acl_read(dirfd, name, inode->dev, inode->ino, &acl);
	put_parent(table, inode);
	mode = __atomic_load_n(&inode->mode, __ATOMIC_RELAXED);
	owner = __atomic_load_n(&inode->uid, __ATOMIC_RELAXED);
	group = __atomic_load_n(&inode->gid, __ATOMIC_RELAXED);
	if (n < 0)
		return caller->uid == 0 && sv_policy_may_access(mode, owner, group, caller, want);
	return sv_policy_acl_may_access(acl, (size_t)n, mode, owner, group, caller, want);
}
