/* QEMU's mapped-xattr layout; see virtfs.h. */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "virtfs.h"

#define XATTR_UID "user.virtfs.uid"
#define XATTR_GID "user.virtfs.gid"
#define XATTR_MODE "user.virtfs.mode"
#define XATTR_RDEV "user.virtfs.rdev"

bool sv_virtfs_is_synthesized(const char *name)
{
	return strcmp(name, XATTR_UID) == 0 || strcmp(name, XATTR_GID) == 0 ||
	       strcmp(name, XATTR_MODE) == 0 || strcmp(name, XATTR_RDEV) == 0;
}

static bool has_rdev(mode_t mode)
{
	return S_ISCHR(mode) || S_ISBLK(mode);
}

static ssize_t copy_value(const void *value, size_t len, void *buf, size_t size)
{
	if (size == 0)
		return (ssize_t)len;
	if (size < len)
		return -ERANGE;
	memcpy(buf, value, len);
	return (ssize_t)len;
}

ssize_t sv_virtfs_getxattr(const struct stat *real, const char *name, void *buf, size_t size)
{
	uint32_t value32;
	uint64_t value64;

	if (strcmp(name, XATTR_UID) == 0)
		value32 = htole32((uint32_t)real->st_uid);
	else if (strcmp(name, XATTR_GID) == 0)
		value32 = htole32((uint32_t)real->st_gid);
	else if (strcmp(name, XATTR_MODE) == 0)
		value32 = htole32((uint32_t)real->st_mode);
	else if (strcmp(name, XATTR_RDEV) == 0 && has_rdev(real->st_mode)) {
		value64 = htole64((uint64_t)real->st_rdev);
		return copy_value(&value64, sizeof(value64), buf, size);
	} else
		return -ENODATA;
	return copy_value(&value32, sizeof(value32), buf, size);
}

ssize_t sv_virtfs_listxattr(const struct stat *real, char *buf, size_t size)
{
	static const char names[] = XATTR_UID "\0" XATTR_GID "\0" XATTR_MODE "\0";
	static const char rdev[] = XATTR_RDEV;
	size_t len = sizeof(names) - 1 + (has_rdev(real->st_mode) ? sizeof(rdev) : 0);

	if (size == 0)
		return (ssize_t)len;
	if (size < len)
		return -ERANGE;
	memcpy(buf, names, sizeof(names) - 1);
	if (has_rdev(real->st_mode))
		memcpy(buf + sizeof(names) - 1, rdev, sizeof(rdev));
	return (ssize_t)len;
}

bool sv_virtfs_shown_as_file(mode_t real_mode)
{
	return !S_ISREG(real_mode) && !S_ISDIR(real_mode);
}

void sv_virtfs_present_attr(struct stat *st)
{
	if (!sv_virtfs_shown_as_file(st->st_mode))
		return;
	/* The content is a symlink's target; special files are empty. */
	if (!S_ISLNK(st->st_mode))
		st->st_size = 0;
	st->st_mode = S_IFREG | 0444;
	st->st_rdev = 0;
	st->st_blocks = 0;
}
