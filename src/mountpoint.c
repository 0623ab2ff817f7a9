/* Checking MOUNTPOINT before mounting; see mountpoint.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <glib.h>

#include "mountpoint.h"

bool sv_mountpoint_is_stale(const char *path)
{
	struct statfs st;

	/* stat() may be answered from the attribute cache; statfs asks the daemon. */
	return statfs(path, &st) < 0 && errno == ENOTCONN;
}

int sv_mountpoint_detach(const char *mountpoint, char **error)
{
	g_autoptr(GError) err = NULL;
	int status;

	if (geteuid() == 0) {
		if (umount2(mountpoint, MNT_DETACH) == 0)
			return 0;
		*error = g_strdup_printf("cannot unmount '%s': %s", mountpoint, g_strerror(errno));
		return -1;
	}
	const char *argv[] = { "fusermount3", "-u", "-z", "--", mountpoint, NULL };
	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
			  NULL, NULL, &status, &err) ||
	    !g_spawn_check_wait_status(status, &err)) {
		*error = g_strdup_printf("cannot unmount '%s': %s", mountpoint, err->message);
		return -1;
	}
	return 0;
}

static bool is_mount_root(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) < 0)
		return false;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* True if path is source or lies beneath it (a view there would read itself). */
static bool is_inside(const char *path, const char *source)
{
	g_autofree char *real_path = realpath(path, NULL);
	g_autofree char *real_source = realpath(source, NULL);
	size_t len;

	if (!real_path || !real_source)
		return false;
	len = strlen(real_source);
	if (strcmp(real_source, "/") == 0)
		return true;
	return strncmp(real_path, real_source, len) == 0 &&
	       (real_path[len] == '\0' || real_path[len] == '/');
}

int sv_mountpoint_prepare(const char *mountpoint, const char *source,
			  bool recover_stale, char **error)
{
	struct stat st;

	if (sv_mountpoint_is_stale(mountpoint)) {
		if (!recover_stale) {
			*error = g_strdup_printf("MOUNTPOINT '%s' holds a dead view (transport endpoint is not connected): "
						 "unmount it with '%s %s' or pass -o recover_stale",
						 mountpoint,
						 geteuid() == 0 ? "umount -l" : "fusermount3 -u -z",
						 mountpoint);
			return -1;
		}
		if (sv_mountpoint_detach(mountpoint, error) < 0)
			return -1;
		g_message("unmounted the dead view on '%s'", mountpoint);
	}
	if (stat(mountpoint, &st) < 0) {
		*error = g_strdup_printf("MOUNTPOINT '%s': %s", mountpoint, g_strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*error = g_strdup_printf("MOUNTPOINT '%s' is not a directory", mountpoint);
		return -1;
	}
	if (is_mount_root(mountpoint)) {
		*error = g_strdup_printf("MOUNTPOINT '%s' is busy: something is already mounted there",
					 mountpoint);
		return -1;
	}
	if (is_inside(mountpoint, source)) {
		*error = g_strdup_printf("MOUNTPOINT '%s' lies inside SOURCE '%s': the view would contain itself",
					 mountpoint, source);
		return -1;
	}
	return 0;
}
