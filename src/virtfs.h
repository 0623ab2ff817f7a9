/*
 * The layout of QEMU's 9p "mapped-xattr" security model, synthesized from
 * SOURCE's real entries (-o virtfs_xattrs).
 *
 * In that model QEMU takes a file's guest-visible owner, group, mode and
 * device number from the user.virtfs.{uid,gid,mode,rdev} xattrs (32-bit
 * little-endian, rdev 64-bit), and stores symlinks and special files as
 * regular files: a symlink's target is the file's content.  A view in this
 * layout lets the guest see the real owners (root) and types while the
 * host-side owner stays the QEMU user.
 */
#ifndef STOREVIEW_VIRTFS_H
#define STOREVIEW_VIRTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* True for the xattr names the view synthesizes (they hide real ones). */
bool sv_virtfs_is_synthesized(const char *name);

/*
 * The value of the synthesized xattr name for an entry whose real lstat is
 * real.  Returns its length (copied to buf when size is not 0), -ERANGE if
 * size is too small, -ENODATA if name is not synthesized for this entry.
 */
ssize_t sv_virtfs_getxattr(const struct stat *real, const char *name, void *buf, size_t size);

/*
 * Writes the synthesized names for real, NUL-separated, to buf (when size
 * is not 0) and returns their total length, or -ERANGE.
 */
ssize_t sv_virtfs_listxattr(const struct stat *real, char *buf, size_t size);

/* Whether an entry of this real type is shown as a regular file. */
bool sv_virtfs_shown_as_file(mode_t real_mode);

/* Turns a real lstat into what the view shows in this layout. */
void sv_virtfs_present_attr(struct stat *st);

#endif
